"""MongoDB access for prompt logs and asynchronous SQL queries."""

from datetime import datetime
from typing import Any, ClassVar

from pymongo import ASCENDING, IndexModel
from pymongo.errors import OperationFailure

from amigo_api.core.db import Document, OrgDb
from amigo_api.core.repository import OrgRepository
from amigo_api.core.sql_tables import DATA_VERSIONS, data_version_id

PROMPT_LOG_TTL_INDEX = "prompt_log_expiry"
# Prefix lookups walk this index's key range (a planner could otherwise pick the TTL index and scan).
KEY_INDEX = "prompt_log_key"
SQL_QUERY_TTL_SECONDS = 7 * 24 * 3600
INDEX_OPTIONS_CONFLICT = 85
INDEX_KEY_SPECS_CONFLICT = 86


def key_range(prefix: str) -> Document:
    """Keys starting with `prefix`, as a range an index answers (a prefix regex may scan)."""
    stem = prefix.rstrip(chr(0x10FFFF))
    if not stem:
        return {"$gte": prefix}
    return {"$gte": prefix, "$lt": stem[:-1] + chr(ord(stem[-1]) + 1)}


class PromptLogRepository(OrgRepository):
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


class SqlQueryRepository(OrgRepository):
    """Asynchronous SQL queries: who ran what, and how it ended."""

    collection_name = "sql_queries"
    indexes: ClassVar[list[IndexModel]] = [
        IndexModel([("created_at", ASCENDING)], name="sql_query_expiry", expireAfterSeconds=SQL_QUERY_TTL_SECONDS),
    ]

    async def by_id(self, query_id: str) -> Document | None:
        return await self.find_one({"_id": query_id})


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
