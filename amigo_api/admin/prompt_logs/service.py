"""Prompt logs: recorded by the platform (`record_prompt_log`) or by clients (the extension endpoint), and
downloaded as a zip that is streamed while it is built.

A log's bodies live in the blob store under a folder per day, its metadata in MongoDB with a TTL index; both
go once the retention passes (the blob sweep runs with the API's maintenance loop)."""

from collections.abc import AsyncIterable, AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import anyio
import structlog
from pymongo.errors import DuplicateKeyError

from amigo_api.admin.prompt_logs import schemas as s
from amigo_api.admin.prompt_logs.repository import (
    PromptLogDocument,
    PromptLogRepository,
    RequiredPermissionDocument,
)
from amigo_api.core.auth import Principal
from amigo_api.core.blobs import BlobStore
from amigo_api.core.clock import utcnow
from amigo_api.core.db import Document, OrgDb
from amigo_api.core.errors import Conflict, InvalidRequest, NotFound
from amigo_api.core.ids import new_id
from amigo_api.core.permissions import KNOWN_PERMISSIONS
from amigo_api.core.sql_tables import INTEGER, JSON, TEXT, TIMESTAMP, Column, SqlTable, register_table
from amigo_api.core.zipstream import ZipWriter

log = structlog.get_logger(__name__)

MAX_DOWNLOAD = 1000
CURSOR_BATCH = 200
OUTPUT_CHUNK = 256 * 1024
INLINE_READ_BYTES = 256 * 1024
HISTORY_SEPARATOR = "\n---\n"
BLOB_PREFIX = "prompt-logs"
# A prompt log carries a whole conversation: its request body may be larger than other JSON bodies.
MAX_PROMPT_LOG_BYTES = 32 * 1024 * 1024


class TooManyPromptLogs(InvalidRequest):
    error_code = "too_many_prompt_logs"


def retention(days: int) -> timedelta:
    return timedelta(days=days)


def _blob_folder(org_id: str, log_id: str, created_at: datetime) -> str:
    return f"{BLOB_PREFIX}/{created_at.date().isoformat()}/{org_id}/{log_id}"


async def ensure_indexes(db: Any) -> None:
    await PromptLogRepository.ensure_indexes(db)


async def record_prompt_log(org: OrgDb, blobs: BlobStore, retention_days: int, body: s.WritePromptLogRequest
                            ) -> s.WritePromptLogResponse:
    """Bodies first, then the metadata that makes them visible; a refused write removes its bodies again."""
    unknown = sorted({p.permission_name for p in body.required_permissions} - KNOWN_PERMISSIONS)
    if unknown:
        raise InvalidRequest(f"Unknown permission name(s): {', '.join(unknown)}.", error_code="unknown_permission")
    now = utcnow()
    log_id = new_id()
    folder = _blob_folder(org.org_id, log_id, now)
    history = HISTORY_SEPARATOR.join(body.history_prompts).encode()
    system = body.system_prompt.encode()

    def write_bodies() -> None:
        blobs.write_bytes(f"{folder}/system", system)
        blobs.write_bytes(f"{folder}/history", history)

    await anyio.to_thread.run_sync(write_bodies)
    doc = PromptLogDocument(
        _id=log_id, log_key=body.log_key, created_at=now, blob_folder=folder,
        required_permissions=[RequiredPermissionDocument(permission_name=p.permission_name, attributes=p.attributes)
                              for p in body.required_permissions],
        system_prompt_bytes=len(system), history_prompt_count=len(body.history_prompts),
        history_prompt_bytes=len(history))
    repository = PromptLogRepository(org)
    try:
        try:
            await repository.store(doc)
        except DuplicateKeyError:
            if not await _drop_expired(repository, blobs, body.log_key, now - retention(retention_days)):
                raise
            await repository.store(doc)
    except DuplicateKeyError as exc:
        blobs.delete_tree(folder)
        raise Conflict(f"A prompt log with key {body.log_key!r} already exists.", error_code="prompt_log_exists"
                       ) from exc
    except BaseException:
        blobs.delete_tree(folder)
        raise
    return s.WritePromptLogResponse(log_key=body.log_key, created_at=now)


async def write_prompt_log(org: OrgDb, principal: Principal, blobs: BlobStore, retention_days: int,
                           body: s.WritePromptLogRequest) -> s.WritePromptLogResponse:
    """The extension endpoint: a client records a log under a key its `Admin:WritePromptLog` grant covers."""
    principal.require("Admin:WritePromptLog", {"log_key": body.log_key})
    return await record_prompt_log(org, blobs, retention_days, body)


async def _drop_expired(repository: PromptLogRepository, blobs: BlobStore, log_key: str, cutoff: datetime) -> bool:
    """A key whose log is past retention (not yet removed by the TTL monitor) may be written again."""
    existing = await repository.find_one({"log_key": log_key})
    if existing is None or existing["created_at"] >= cutoff:
        return False
    await repository.delete_one({"_id": existing["_id"], "created_at": existing["created_at"]})
    blobs.delete_tree(existing["blob_folder"])
    return True


async def download(org: OrgDb, principal: Principal, blobs: BlobStore, retention_days: int, prefix: str
                   ) -> AsyncIterable[bytes]:
    """Check the size of the match first (404 / 400 are still possible), then stream the zip."""
    since = utcnow() - retention(retention_days)
    repository = PromptLogRepository(org)
    found = await repository.count_matching(prefix, since, limit=MAX_DOWNLOAD + 1)
    if found == 0:
        raise NotFound("No prompt logs found matching the supplied prefix.", error_code="prompt_logs_not_found")
    if found > MAX_DOWNLOAD:
        raise TooManyPromptLogs(f"More than {MAX_DOWNLOAD} prompt logs match {prefix!r}; use a longer prefix.")
    return _zip(repository.cursor(prefix, since, CURSOR_BATCH), principal, blobs)


def _missing_permission(principal: Principal, doc: Document) -> str | None:
    for required in doc["required_permissions"]:
        if not principal.can(required["permission_name"], required["attributes"]):
            attributes = ", ".join(f"{k}={v!r}" for k, v in required["attributes"].items())
            return (f"You lack the permission {required['permission_name']}"
                    f"{f' for {attributes}' if attributes else ''}, which this prompt log requires.")
    return None


def _read_bodies(blobs: BlobStore, folder: str) -> tuple[bytes, bytes] | None:
    try:
        return blobs.read_bytes(f"{folder}/system"), blobs.read_bytes(f"{folder}/history")
    except FileNotFoundError:
        return None


async def _bodies(blobs: BlobStore, doc: Document) -> tuple[bytes, bytes] | None:
    size = doc.get("system_prompt_bytes", 0) + doc.get("history_prompt_bytes", 0)
    if size <= INLINE_READ_BYTES:  # a small read from the page cache costs less than a thread hop
        return _read_bodies(blobs, doc["blob_folder"])
    return await anyio.to_thread.run_sync(_read_bodies, blobs, doc["blob_folder"])


async def _zip(cursor: Any, principal: Principal, blobs: BlobStore) -> AsyncIterator[bytes]:
    """Per log `-system` and `-history`, or `-error` with the reason the log is not shown. A failure that stops
    the cursor propagates: the stream ends without the zip's central directory, as documented."""
    archive = ZipWriter()
    pending = bytearray()
    async for doc in cursor:
        key, modified = doc["log_key"], doc["created_at"]
        reason = _missing_permission(principal, doc)
        bodies = None if reason else await _bodies(blobs, doc)
        if reason is None and bodies is None:
            reason = "The prompt log's content is no longer available; it may have just expired."
        if bodies is None:
            pending += archive.member(f"{key}-error", str(reason).encode(), modified)
        else:
            pending += archive.member(f"{key}-system", bodies[0], modified)
            pending += archive.member(f"{key}-history", bodies[1], modified)
        if len(pending) >= OUTPUT_CHUNK:
            yield bytes(pending)
            pending.clear()
    yield bytes(pending) + archive.finish()


def sweep_expired_bodies(blobs: BlobStore, retention_days: int) -> list[str]:
    """Remove body folders of days past retention (plus a day's grace for logs written near midnight)."""
    return blobs.sweep_days(BLOB_PREFIX, retention(retention_days) + timedelta(days=1), utcnow())


register_table(SqlTable(
    name="prompt_logs", collection=PromptLogRepository.collection_name,
    columns={"log_id": Column(TEXT, "_id"), "log_key": TEXT, "created_at": TIMESTAMP, "required_permissions": JSON,
             "system_prompt_bytes": INTEGER, "history_prompt_count": INTEGER, "history_prompt_bytes": INTEGER},
    scope=lambda settings: {"created_at": {"$gte": utcnow() - retention(settings.prompt_log_retention_days)}}))
