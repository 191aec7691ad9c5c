"""Stored shapes of LLM analytics. Environments and personal API keys live in the infra-config database:
`/api/environments/{id}` paths and capture requests carry no organization, so their ids, project tokens and
key hashes are looked up there. Events live in the owning organization's database."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NotRequired, TypedDict

import bson
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.cursor import AsyncCursor
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from amigo_api.core.db import Document
from amigo_api.core.repository import TypedRepository

ENVIRONMENTS = "llm_environments"
PERSONAL_API_KEYS = "llm_personal_api_keys"
COUNTERS = "counters"
ENVIRONMENT_COUNTER = "llm_environment"
DUPLICATE_KEY = 11000


class EnvironmentDocument(TypedDict):
    _id: int  # allocated from a counter, never reused
    uuid: str
    org_id: str
    name: str
    project_token: str  # `phc_...`: public, picks the environment for capture
    created_by: dict[str, str]
    created_at: datetime
    updated_at: datetime


class PersonalApiKeyDocument(TypedDict):
    _id: str
    org_id: str
    user_id: str
    label: str
    scopes: list[str]
    secret_hash: str  # sha256 of the whole `phx_...` value; the value itself is shown once
    mask_value: str
    created_at: datetime
    last_used_at: datetime | None


class EventDocument(TypedDict):
    _id: str  # `{environment_id}/{uuid}`: a re-sent uuid is stored once
    environment_id: int
    uuid: str
    event: str
    distinct_id: str
    properties: dict[str, Any]
    timestamp: datetime
    created_at: datetime
    eval_pending: NotRequired[bool]  # a generation not yet matched against the evaluations (dispatcher.py)


class EventRepository(TypedRepository[EventDocument]):
    collection_name = "events"
    indexes = [IndexModel([("org_id", ASCENDING), ("environment_id", ASCENDING), ("event", ASCENDING),
                           ("timestamp", DESCENDING)], name="event_environment_event_time"),
               IndexModel([("org_id", ASCENDING), ("environment_id", ASCENDING), ("uuid", ASCENDING)],
                          name="event_environment_uuid"),
               IndexModel([("eval_pending", ASCENDING)], name="event_eval_pending")]

    def recent_raw(self, environment_id: int, event: str, since: datetime, limit: int
                   ) -> AsyncCursor[RawBSONDocument]:
        """The newest events of a kind, as raw BSON (decoded only where they are read)."""
        raw = self.collection.with_options(codec_options=CodecOptions(document_class=RawBSONDocument, tz_aware=True))
        query = self.scoped({"environment_id": environment_id, "event": event, "timestamp": {"$gt": since}})
        fields = {"_id": 0, "uuid": 1, "event": 1, "properties": 1, "distinct_id": 1}
        return raw.find(query, fields).sort([("timestamp", -1)]).limit(limit)

    def encode(self, doc: EventDocument) -> RawBSONDocument:
        """The document as it is stored (with its organization), encoded once: the caller can weigh it, and a
        bulk write sends these bytes as they are. Raises what BSON refuses (`OverflowError`, `InvalidDocument`,
        `UnicodeEncodeError`)."""
        return RawBSONDocument(bson.encode({**doc, "org_id": self.org.org_id}))

    async def insert_encoded(self, docs: Sequence[RawBSONDocument]) -> None:
        """One unordered bulk write: an event stored before (its uuid sent again) is skipped, not an error, and
        does not stop the others."""
        if not docs:
            return
        try:
            await self.collection.insert_many(docs, ordered=False, session=self.session)
            inserted = len(docs)
        except BulkWriteError as exc:
            if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
                raise
            inserted = int(exc.details.get("nInserted", 0))
        await self._changed(inserted)


async def ensure_infra_indexes(infra: AsyncDatabase[Document]) -> None:
    await infra[ENVIRONMENTS].create_index([("project_token", ASCENDING)], unique=True, name="project_token")
    await infra[ENVIRONMENTS].create_index([("org_id", ASCENDING), ("_id", ASCENDING)], name="org_environments")
    await infra[PERSONAL_API_KEYS].create_index([("secret_hash", ASCENDING)], unique=True, name="key_hash")
    await infra[PERSONAL_API_KEYS].create_index([("org_id", ASCENDING), ("user_id", ASCENDING)], name="key_owner")
    # Made once at start-up: concurrent first upserts of the counter could both insert.
    await infra[COUNTERS].update_one({"_id": ENVIRONMENT_COUNTER}, {"$setOnInsert": {"value": 0}}, upsert=True)


async def next_environment_id(infra: AsyncDatabase[Document]) -> int:
    """Atomic: concurrent creates in any process get distinct ids, and an id is never handed out twice."""
    counter = await infra[COUNTERS].find_one_and_update(
        {"_id": ENVIRONMENT_COUNTER}, {"$inc": {"value": 1}}, upsert=True, return_document=ReturnDocument.AFTER)
    assert counter is not None  # upserted
    return int(counter["value"])
