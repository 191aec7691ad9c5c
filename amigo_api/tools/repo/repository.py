"""MongoDB access for the record of who pushed which ref update through the git endpoint."""

from pymongo import ASCENDING, DESCENDING, IndexModel

from amigo_api.core.db import Document
from amigo_api.core.repository import OrgRepository


class PushRepository(OrgRepository):
    collection_name = "tool_repo_pushes"
    indexes = [IndexModel([("org_id", ASCENDING), ("ref", ASCENDING), ("new_sha", ASCENDING),
                           ("pushed_at", DESCENDING)], name="push_ref_sha")]

    async def latest_for(self, ref: str, sha: str) -> Document | None:
        docs, _ = await self.find_page({"ref": ref, "new_sha": sha}, sort=[("pushed_at", DESCENDING)], skip=0,
                                       limit=1)
        return docs[0] if docs else None
