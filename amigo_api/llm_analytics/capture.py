"""PostHog-compatible event capture: bodies (JSON, gzip or deflate, with a cap on the decompressed size too),
the event shapes of capture v0 (`/batch/`, `/capture/`, `/e/`, `/i/v0/e/`, the AI lane `/i/v0/ai/batch/`) and
v1 (`/i/v1/analytics/events`), and storage: one bulk write per request, a re-sent uuid stored once."""

import json
import uuid
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.errors import BulkWriteError

from amigo_api.core.clock import utcnow
from amigo_api.core.db import OrgDb
from amigo_api.core.errors import AmigoError
from amigo_api.core.sql_tables import SqlTable, register_table
from amigo_api.llm_analytics.errors import FieldError
from amigo_api.llm_analytics.repository import EnvironmentDocument, EventDocument, EventRepository

# Compressed bodies: the request guard refuses more (413). Decompressed: refused here, while inflating.
MAX_BODY_BYTES = 20 * 1024 * 1024
MAX_AI_BODY_BYTES = 100 * 1024 * 1024
MAX_DECOMPRESSED_BYTES = 200 * 1024 * 1024
MAX_EVENTS = 10_000
MAX_NAME = 400
DUPLICATE_KEY = 11000
GENERATION = "$ai_generation"


class TooLarge(AmigoError):
    status_code = 413
    error_code = "request_too_large"


class InvalidToken(AmigoError):
    status_code = 401
    error_code = "invalid_api_key"
    detail = ("Project API key invalid. You can find your project API key in your project's settings "
              "(`api_token` of GET /api/environments/{id}/).")


def _inflate(data: bytes, wbits: int, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise FieldError(f"The body could not be decompressed: {exc}.", None, "parse_error") from exc
    if len(out) > limit or inflater.unconsumed_tail:
        raise TooLarge(f"The decompressed body is larger than {limit} bytes.")
    return out


def decode_body(raw: bytes, content_encoding: str, compression: str | None, limit: int = MAX_DECOMPRESSED_BYTES
                ) -> Any:
    """The JSON the request carries, decompressed per `Content-Encoding` or `?compression=gzip-js`."""
    encoding = (content_encoding or "").strip().lower()
    if encoding == "gzip" or compression == "gzip-js" or raw[:2] == b"\x1f\x8b":
        raw = _inflate(raw, 16 + zlib.MAX_WBITS, limit)
    elif encoding == "deflate":
        raw = _inflate(raw, zlib.MAX_WBITS, limit)
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FieldError(f"The body is not JSON: {exc}.", None, "parse_error") from exc


def events_of(body: Any) -> list[Any]:
    """v0 bodies: `{batch: [...]}`, one event, or a list of events."""
    if isinstance(body, dict) and "batch" in body:
        batch = body["batch"]
    elif isinstance(body, list):
        batch = body
    else:
        batch = [body]
    if not isinstance(batch, list) or not batch:
        raise FieldError("No events in the body.", "batch", "invalid")
    if len(batch) > MAX_EVENTS:
        raise TooLarge(f"A request holds at most {MAX_EVENTS} events.")
    return batch


def token_of(body: Any, events: list[Any]) -> str:
    """`api_key` or `token` in the body, else in the first event or its properties."""
    for holder in (body, events[0], (events[0] or {}).get("properties") if isinstance(events[0], dict) else None):
        if isinstance(holder, dict):
            for name in ("api_key", "token"):
                if isinstance(holder.get(name), str) and holder[name]:
                    return str(holder[name])
    return ""


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
    from ours; `offset` (ms before sending) counts back from now; no timestamp is now."""
    timestamp = _time(event.get("timestamp"))
    if timestamp is not None and sent_at is not None and not (event.get("properties") or {}).get("$ignore_sent_at"):
        return timestamp + (now - sent_at)
    if timestamp is None and isinstance(event.get("offset"), int | float):
        return now - timedelta(milliseconds=float(event["offset"]))
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


async def store(org: OrgDb, docs: list[EventDocument]) -> None:
    """One bulk write; events already stored (the same uuid again) are skipped, not errors."""
    if not docs:
        return
    try:
        await EventRepository(org).store_many(docs)
    except BulkWriteError as exc:
        if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
            raise


async def capture_v0(org: OrgDb, environment: EnvironmentDocument, body: Any, events: list[Any]) -> None:
    """Every event must be valid, as v0 answers for the request as a whole."""
    now = utcnow()
    sent_at = _time(body.get("sent_at")) if isinstance(body, dict) else None
    docs = [to_document(environment["_id"], e, sent_at, now) for e in events]
    rejected = [d for d in docs if isinstance(d, Rejected)]
    if rejected:
        raise FieldError(rejected[0].reason, "batch", "invalid")
    await store(org, [d for d in docs if not isinstance(d, Rejected)])


async def capture_v1(org: OrgDb, environment: EnvironmentDocument, body: Any, events: list[Any]) -> dict[str, Any]:
    """v1 answers per event: `ok`, or `drop` with the reason. The batch's `created_at` is its `sent_at`."""
    now = utcnow()
    sent_at = _time(body.get("created_at")) if isinstance(body, dict) else None
    docs = [to_document(environment["_id"], e, sent_at, now) for e in events]
    await store(org, [d for d in docs if not isinstance(d, Rejected)])
    return {"results": {(d.uuid if isinstance(d, Rejected) else d["uuid"]): (
        {"result": "drop", "details": d.reason} if isinstance(d, Rejected) else {"result": "ok"}) for d in docs}}


register_table(SqlTable("events", EventRepository.collection_name, {
    "uuid": "uuid", "event": "event", "distinct_id": "distinct_id", "properties": "properties",
    "timestamp": "timestamp", "environment_id": "environment_id", "created_at": "created_at"}))
