"""MongoDB access for prompt logs, with their stored shape."""

from datetime import datetime
from typing import Any, ClassVar, TypedDict

from pymongo import ASCENDING, IndexModel
from pymongo.errors import OperationFailure

from amigo_api.core.db import Document
from amigo_api.core.repository import TypedRepository

PROMPT_LOG_TTL_INDEX = "prompt_log_expiry"
# Prefix lookups walk this index's key range (a planner could otherwise pick the TTL index and scan).
KEY_INDEX = "prompt_log_key"
INDEX_OPTIONS_CONFLICT = 85
INDEX_KEY_SPECS_CONFLICT = 86


class RequiredPermissionDocument(TypedDict):
    permission_name: str
    attributes: dict[str, Any]


class PromptLogDocument(TypedDict):
    """A log's metadata; its bodies are in the blob store under `blob_folder`."""

    _id: str
    log_key: str
    created_at: datetime
    blob_folder: str
    required_permissions: list[RequiredPermissionDocument]
    system_prompt_bytes: int
    history_prompt_count: int
    history_prompt_bytes: int


def key_range(prefix: str) -> Document:
    """Keys starting with `prefix`, as a range an index answers (a prefix regex may scan)."""
    stem = prefix.rstrip(chr(0x10FFFF))
    if not stem:
        return {"$gte": prefix}
    return {"$gte": prefix, "$lt": stem[:-1] + chr(ord(stem[-1]) + 1)}


class PromptLogRepository(TypedRepository[PromptLogDocument]):
    collection_name = "prompt_logs"
    indexes: ClassVar[list[IndexModel]] = [
        IndexModel([("org_id", ASCENDING), ("log_key", ASCENDING)], unique=True, name=KEY_INDEX),
    ]

    def matching(self, prefix: str, since: datetime) -> Document:
        return {"log_key": key_range(prefix), "created_at": {"$gte": since}}

    async def count_matching(self, prefix: str, since: datetime, limit: int) -> int:
        return await self.collection.count_documents(self.scoped(self.matching(prefix, since)), limit=limit,
                                                     hint=KEY_INDEX, session=self.session)

    def cursor(self, prefix: str, since: datetime, batch_size: int) -> Any:
        return self.collection.find(self.scoped(self.matching(prefix, since)), session=self.session,
                                    batch_size=batch_size).sort([("org_id", ASCENDING), ("log_key", ASCENDING)]
                                                                ).hint(KEY_INDEX)

    @classmethod
    async def ensure_retention(cls, db: Any, retention_seconds: int) -> None:
        """The TTL index that removes logs past their retention; a changed retention updates it in place."""
        collection = db[cls.collection_name]
        try:
            await collection.create_index([("created_at", ASCENDING)], name=PROMPT_LOG_TTL_INDEX,
                                          expireAfterSeconds=retention_seconds)
        except OperationFailure as exc:
            if exc.code not in (INDEX_OPTIONS_CONFLICT, INDEX_KEY_SPECS_CONFLICT):
                raise
            await db.command({"collMod": cls.collection_name,
                              "index": {"name": PROMPT_LOG_TTL_INDEX, "expireAfterSeconds": retention_seconds}})
