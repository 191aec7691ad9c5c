"""MongoDB access for asynchronous SQL queries (with their stored shape) and for the snapshots of the
collections the SQL endpoint exposes."""

from datetime import datetime
from typing import Any, ClassVar, Literal, NotRequired, TypedDict

from pymongo import ASCENDING, IndexModel

from amigo_api.core.db import Document, OrgDb
from amigo_api.core.repository import TypedRepository
from amigo_api.core.sql_tables import DATA_VERSIONS, data_version_id

SQL_QUERY_TTL_SECONDS = 7 * 24 * 3600


class SqlQueryDocument(TypedDict):
    _id: str
    sql_query: str
    status: Literal["running", "succeeded", "failed"]
    user: dict[str, str]
    created_at: datetime
    attempt: NotRequired[int]
    started_at: NotRequired[datetime]
    finished_at: NotRequired[datetime]
    row_count: NotRequired[int]
    error: NotRequired[str]


class SqlQueryRepository(TypedRepository[SqlQueryDocument]):
    """Asynchronous SQL queries: who ran what, and how it ended."""

    collection_name = "sql_queries"
    indexes: ClassVar[list[IndexModel]] = [
        IndexModel([("created_at", ASCENDING)], name="sql_query_expiry", expireAfterSeconds=SQL_QUERY_TTL_SECONDS),
    ]

class SnapshotSource:
    """Reads the collections the SQL endpoint exposes (other domains' data), always for one organization."""

    def __init__(self, org: OrgDb) -> None:
        self.org = org

    async def write_counts(self, collections: list[str]) -> dict[str, int]:
        """How many counted writes each collection has had for this organization (0 if none yet)."""
        ids = {data_version_id(self.org.org_id, c): c for c in collections}
        found = {ids[d["_id"]]: int(d["version"])
                 async for d in self.org.db[DATA_VERSIONS].find({"_id": {"$in": list(ids)}})}
        return {c: found.get(c, 0) for c in collections}

    def documents(self, collection: str, query: Document, batch_size: int) -> Any:
        return self.org.db[collection].find({**query, "org_id": self.org.org_id}, batch_size=batch_size)
