"""PostHog-compatible event capture: the event shapes of capture v0 (`/batch/`, `/capture/`, `/e/`, `/i/v0/e/`,
the AI lane `/i/v0/ai/batch/`) and v1 (`/i/v1/analytics/events`), and their storage.

Bodies are read by `capture_body` with bounded memory and the token is checked before any event is parsed.
Then each event becomes its stored document, encoded to BSON once, and the documents go to the database in
unordered bulk writes of at most STORE_CHUNK_BYTES each; a re-sent uuid is stored once."""

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from bson.errors import InvalidDocument
from bson.raw_bson import RawBSONDocument

from amigo_api.core.clock import utcnow
from amigo_api.core.db import Clusters, OrgDb
from amigo_api.core.errors import AmigoError
from amigo_api.core.sql_tables import INTEGER, JSON, TEXT, TIMESTAMP, SqlTable, register_table
from amigo_api.llm_analytics import service
from amigo_api.llm_analytics.capture_body import BodyReader
from amigo_api.llm_analytics.capture_limits import CaptureLimits, MiB
from amigo_api.llm_analytics.errors import FieldError
from amigo_api.llm_analytics.raw_events import Oversized, RawEvent, parse_event
from amigo_api.llm_analytics.repository import EnvironmentDocument, EventDocument, EventRepository

MAX_NAME = 400
GENERATION = "$ai_generation"
STORE_CHUNK_BYTES = 2 * MiB  # encoded documents held before a bulk write
MAX_DOCUMENT_BYTES = 16 * MiB  # MongoDB's limit on one document
PACE_BYTES = 1 * MiB  # a large body lets other requests in after this much parsing
SURROGATE = re.compile("[\ud800-\udfff]")


class InvalidToken(AmigoError):
    status_code = 401
    error_code = "invalid_api_key"
    detail = ("Project API key invalid. You can find your project API key in your project's settings "
              "(`api_token` of GET /api/environments/{id}/).")


@dataclass(frozen=True)
class IncomingBody:
    """A capture request's body as it streams, and the headers that say how to read it."""

    chunks: AsyncIterator[bytes]
    content_encoding: str
    compression: str | None
    declared_length: str | None

    def reader(self, limits: CaptureLimits, drop_oversized: bool = False) -> BodyReader:
        return BodyReader(limits, self.content_encoding, self.compression, self.declared_length, drop_oversized)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def event_time(event: dict[str, Any], sent_at: datetime | None, now: datetime) -> datetime:
    """PostHog's clock-skew correction: a timestamp sent with `sent_at` is moved by the client clock's offset
    from ours; `offset` (ms before sending) counts back from now; no timestamp, or one out of range, is now."""
    timestamp = _time(event.get("timestamp"))
    properties = event.get("properties")
    ignore_sent_at = isinstance(properties, dict) and properties.get("$ignore_sent_at")
    try:
        if timestamp is not None and sent_at is not None and not ignore_sent_at:
            return timestamp + (now - sent_at)
        if timestamp is None and isinstance(event.get("offset"), int | float):
            return now - timedelta(milliseconds=float(event["offset"]))
    except (OverflowError, ValueError):
        return now
    return timestamp or now


@dataclass(frozen=True)
class Rejected:
    uuid: str
    reason: str


def to_document(environment_id: int, raw: Any, sent_at: datetime | None, now: datetime) -> EventDocument | Rejected:
    if not isinstance(raw, dict):
        return Rejected("", "An event must be an object.")
    given = raw.get("uuid")
    try:
        event_uuid = str(uuid.UUID(str(given))) if given is not None else str(uuid.uuid4())
    except ValueError:
        return Rejected(str(given)[:100], "The event's uuid is not a UUID.")
    name, distinct_id = raw.get("event"), raw.get("distinct_id")
    if not isinstance(name, str) or not name or len(name) > MAX_NAME:
        return Rejected(event_uuid, f"`event` must be a name of 1 to {MAX_NAME} characters.")
    if isinstance(distinct_id, int | float) and not isinstance(distinct_id, bool):
        distinct_id = str(distinct_id)
    if not isinstance(distinct_id, str) or not distinct_id or len(distinct_id) > MAX_NAME:
        return Rejected(event_uuid, f"`distinct_id` must be a string of 1 to {MAX_NAME} characters.")
    properties = raw.get("properties") or {}
    if not isinstance(properties, dict):
        return Rejected(event_uuid, "`properties` must be an object.")
    properties = {k: v for k, v in properties.items() if k not in ("token", "api_key")}
    document = EventDocument(_id=f"{environment_id}/{event_uuid}", environment_id=environment_id, uuid=event_uuid,
                             event=name, distinct_id=distinct_id, properties=properties,
                             timestamp=event_time(raw, sent_at, now), created_at=now)
    if name == GENERATION:
        document["eval_pending"] = True  # for the evaluations: matched by the worker, never here (dispatcher.py)
    return document


async def capture_target(clusters: Clusters, token: str) -> tuple[EnvironmentDocument, OrgDb]:
    """The environment a project token sends to, and its organization's database; 401 for any other token."""
    environment = await service.environment_for_token(clusters.infra, token)
    if environment is None:
        raise InvalidToken()
    return environment, await clusters.org_db(environment["org_id"])


async def capture_v0(clusters: Clusters, incoming: IncomingBody, limits: CaptureLimits) -> None:
    """v0 answers for the request as a whole: one invalid or oversized event refuses it, and nothing of it is
    stored. The token is checked as soon as it is known: before the batch when the envelope gives it first, after
    the first event of an array body, else once the body has been read."""
    reader = incoming.reader(limits)
    target = None
    async for chunk in incoming.chunks:
        for token in reader.feed(chunk):
            target = target or await capture_target(clusters, token)
    body = reader.close()
    environment, org = target or await capture_target(clusters, body.token())
    await _ingest(org, environment["_id"], body.events, _time(body.envelope.get("sent_at")), whole=True)


async def capture_v1(clusters: Clusters, token: str, incoming: IncomingBody, limits: CaptureLimits
                     ) -> dict[str, Any]:
    """v1 (Bearer project token, checked before the body is read) answers per event: `ok`, or `drop` with the
    reason; an event over a limit is dropped and the others are stored. The batch's `created_at` is its
    `sent_at`."""
    environment, org = await capture_target(clusters, token)
    reader = incoming.reader(limits, drop_oversized=True)
    async for chunk in incoming.chunks:
        for _ in reader.feed(chunk):
            pass  # the token came in the header
    body = reader.close()
    outcomes = await _ingest(org, environment["_id"], body.events, _time(body.envelope.get("created_at")),
                             whole=False)
    return {"results": {event_uuid: {"result": "ok"} if reason is None else {"result": "drop", "details": reason}
                        for event_uuid, reason in outcomes}}


async def store(org: OrgDb, docs: list[EventDocument]) -> None:
    """Events built on the server (evaluation results), stored as captured ones are."""
    repository = EventRepository(org)
    await repository.insert_encoded([repository.encode(d) for d in docs])


# From raw events to stored documents ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Encoded:
    uuid: str
    document: RawBSONDocument


Prepared = Encoded | Rejected
Outcome = tuple[str, str | None]  # uuid, and the reason it was dropped


async def _ingest(org: OrgDb, environment_id: int, events: list[RawEvent], sent_at: datetime | None, whole: bool
                  ) -> list[Outcome]:
    """A first pass checks every event before anything is written (with `whole`, one refused event refuses the
    request; an event that is not JSON always does). Documents that fit in one bulk write are written from that
    pass; otherwise a second pass encodes them again and writes them chunk by chunk, so memory holds one chunk."""
    repository = EventRepository(org)
    now = utcnow()

    def prepare(raw: RawEvent) -> Prepared:
        return _prepare(repository, environment_id, raw, sent_at, now)

    kept: list[Prepared] | None = []
    kept_bytes = 0
    async for item in _paced(events, prepare):
        if whole and isinstance(item, Rejected):
            raise FieldError(item.reason, "batch", "invalid")
        if kept is not None and isinstance(item, Encoded):
            kept_bytes += len(item.document.raw)
            kept = kept if kept_bytes <= STORE_CHUNK_BYTES else None
        if kept is not None:
            kept.append(item)
    if kept is not None:
        await repository.insert_encoded([i.document for i in kept if isinstance(i, Encoded)])
        return [_outcome(i) for i in kept]
    outcomes: list[Outcome] = []
    chunk: list[RawBSONDocument] = []
    chunk_bytes = 0
    async for item in _paced(events, prepare):
        outcomes.append(_outcome(item))
        if isinstance(item, Encoded):
            chunk.append(item.document)
            chunk_bytes += len(item.document.raw)
            if chunk_bytes >= STORE_CHUNK_BYTES:
                await repository.insert_encoded(chunk)
                chunk, chunk_bytes = [], 0
    await repository.insert_encoded(chunk)
    return outcomes


async def _paced(events: list[RawEvent], prepare: Callable[[RawEvent], Prepared]) -> AsyncIterator[Prepared]:
    parsed = 0
    for raw in events:
        parsed += len(raw) if isinstance(raw, bytes) else 0
        if parsed >= PACE_BYTES:
            parsed = 0
            await asyncio.sleep(0)  # a large body does not hold the event loop for all of its parsing
        yield prepare(raw)


def _outcome(item: Prepared) -> Outcome:
    return (item.uuid, item.reason) if isinstance(item, Rejected) else (item.uuid, None)


def _prepare(repository: EventRepository, environment_id: int, raw: RawEvent, sent_at: datetime | None,
             now: datetime) -> Prepared:
    if isinstance(raw, Oversized):
        return Rejected(raw.uuid or "", raw.reason)
    document = to_document(environment_id, parse_event(raw), sent_at, now)
    if isinstance(document, Rejected):
        return document
    try:
        encoded = _encode(repository, document)
    except OverflowError:
        return Rejected(document["uuid"], "A number in the event is larger than 8 bytes.")
    except InvalidDocument as exc:
        return Rejected(document["uuid"], f"The event cannot be stored: {exc}.")
    if len(encoded.raw) > MAX_DOCUMENT_BYTES:
        return Rejected(document["uuid"], f"The event is larger than {MAX_DOCUMENT_BYTES} bytes once stored.")
    return Encoded(document["uuid"], encoded)


def _encode(repository: EventRepository, document: EventDocument) -> RawBSONDocument:
    try:
        return repository.encode(document)
    except UnicodeEncodeError:  # a lone surrogate (`"\ud800"`) becomes U+FFFD, as PostHog's capture does
        return repository.encode(cast(EventDocument, _without_surrogates(document)))


def _without_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_surrogates(v) for v in value]
    return value


register_table(SqlTable("events", EventRepository.collection_name, {
    "uuid": TEXT, "event": TEXT, "distinct_id": TEXT, "properties": JSON, "timestamp": TIMESTAMP,
    "environment_id": INTEGER, "created_at": TIMESTAMP}))
