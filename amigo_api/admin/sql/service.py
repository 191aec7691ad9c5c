"""Rules of the read-only SQL endpoint: who may query, the synchronous path (1,000 rows, 30 s, 408), the
asynchronous path (a Temporal workflow writes CSV to the blob store), and the signed result URL."""

import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import anyio
from temporalio.client import Client

from amigo_api.admin.sql import schemas as s
from amigo_api.admin.sql.columns import declared_columns
from amigo_api.admin.sql.engine import (
    QueryFailed,
    QueryTimedOut,
    SnapshotCache,
    json_rows,
    run_query,
    run_query_to_csv,
)
from amigo_api.admin.sql.guard import SqlRefused, check_query
from amigo_api.admin.sql.repository import SQL_QUERY_TTL_SECONDS, SqlQueryDocument, SqlQueryRepository
from amigo_api.admin.sql.workflow import SqlQueryJob, SqlQueryWorkflow
from amigo_api.core.auth import Principal
from amigo_api.core.blobs import BlobStore
from amigo_api.core.clock import utcnow
from amigo_api.core.db import OrgDb
from amigo_api.core.errors import AmigoError, NotFound, PermissionDenied, Unavailable
from amigo_api.core.ids import new_id
from amigo_api.core.sql_tables import tables
from amigo_api.settings import Settings

MAX_ROWS = 1000
RETRY_AFTER_SECONDS = 2


async def ensure_indexes(db: Any) -> None:
    await SqlQueryRepository.ensure_indexes(db)


def _table_names() -> set[str]:
    return {t.name for t in tables()}


async def run_sync(org: OrgDb, cache: SnapshotCache, settings: Settings, sql_text: str) -> s.SqlQueryResult:
    names = check_query(sql_text, _table_names())
    snapshots = await cache.tables(org, names)
    result = await anyio.to_thread.run_sync(run_query, settings, snapshots, sql_text, MAX_ROWS,
                                            settings.sql_max_result_bytes, settings.sql_timeout_seconds,
                                            limiter=cache.limiter)
    return s.SqlQueryResult(execution_time_ms=result.elapsed_ms, truncated=result.truncated,
                            columns=[s.Column(name=n, type=t) for n, t in result.columns],
                            result=json_rows(result.columns, result.rows))


def schema() -> s.SqlSchemaResponse:
    """The declared types: the same whatever the organization has stored."""
    return s.SqlSchemaResponse(tables=[
        s.SqlTableSchema(name=name, columns=[s.Column(name=c, type=t) for c, t in columns])
        for name, columns in declared_columns(tables()).items()])


# Asynchronous queries -------------------------------------------------------------------------------

def _signature(settings: Settings, org_id: str, query_id: str, expires: int) -> str:
    key = hashlib.sha256(f"sql-result-url:{settings.secret_key}".encode()).digest()
    return hmac.new(key, f"{org_id}/{query_id}/{expires}".encode(), hashlib.sha256).hexdigest()


def result_url(base_url: str, settings: Settings, org_id: str, query_id: str) -> str:
    expires = int(time.time()) + settings.sql_result_url_seconds
    signature = _signature(settings, org_id, query_id, expires)
    return (f"{base_url.rstrip('/')}/v1/{org_id}/admin/sql_query/{query_id}/result"
            f"?expires={expires}&signature={signature}")


def verify_signature(settings: Settings, org_id: str, query_id: str, expires: int, signature: str) -> None:
    expected = _signature(settings, org_id, query_id, expires)
    # Bytes, not str: compare_digest refuses non-ASCII strings, and any malformed signature is simply wrong.
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")) or expires < time.time():
        raise PermissionDenied("The result URL is invalid or has expired; submit the query again.",
                               error_code="invalid_result_url")


async def submit_async(org: OrgDb, principal: Principal, temporal: Client | None, settings: Settings,
                       sql_text: str, base_url: str) -> s.AsyncSqlQueryAccepted:
    check_query(sql_text, _table_names())
    if temporal is None:
        raise Unavailable("Asynchronous queries need the Temporal service, which this server is not connected to.",
                          error_code="temporal_unavailable")
    query_id = new_id()
    await SqlQueryRepository(org).store(SqlQueryDocument(
        _id=query_id, sql_query=sql_text, status="running", created_at=utcnow(), user=principal.user_info))
    await temporal.start_workflow(SqlQueryWorkflow.run, SqlQueryJob(org.org_id, query_id,
                                                                    settings.sql_async_timeout_seconds),
                                  id=f"sql-query-{org.org_id}-{query_id}", task_queue=settings.temporal_task_queue)
    return s.AsyncSqlQueryAccepted(query_id=query_id, status="running",
                                   result_url=result_url(base_url, settings, org.org_id, query_id))


RESULTS_PREFIX = "sql-results"
RESULT_RETENTION = timedelta(seconds=SQL_QUERY_TTL_SECONDS)  # as long as the query's record lives


def _result_key(org_id: str, job: SqlQueryDocument) -> str:
    return f"{RESULTS_PREFIX}/{job['created_at'].date().isoformat()}/{org_id}/{job['_id']}.csv"


def sweep_expired_results(blobs: BlobStore) -> list[str]:
    return blobs.sweep_days(RESULTS_PREFIX, RESULT_RETENTION + timedelta(days=1), utcnow())


async def execute_async_query(org: OrgDb, settings: Settings, blobs: BlobStore, query_id: str,
                              timeout_seconds: float, attempt: int = 1) -> str:
    """In the worker: run without the row cap, write the CSV atomically, record the outcome. A query that
    fails on its own terms is recorded as failed; anything else raises so that Temporal retries it."""
    repository = SqlQueryRepository(org)
    job = await repository.get(query_id)
    if job is None or job["status"] != "running":
        return job["status"] if job else "missing"
    await repository.update_one({"_id": query_id}, {"$set": {"attempt": attempt, "started_at": utcnow()}})
    try:
        names = check_query(job["sql_query"], _table_names())
        snapshots = await SnapshotCache(settings).tables(org, names)

        def write(chunks: Iterator[bytes]) -> int:
            return blobs.write_chunks(_result_key(org.org_id, job), chunks)

        rows = await anyio.to_thread.run_sync(run_query_to_csv, settings, snapshots, job["sql_query"],
                                              timeout_seconds, write)
    except (SqlRefused, QueryFailed, QueryTimedOut) as exc:
        await record_failure(org, query_id, exc.detail)
        return "failed"
    await repository.update_one({"_id": query_id}, {"$set": {
        "status": "succeeded", "row_count": rows, "finished_at": utcnow()}})
    return "succeeded"


async def record_failure(org: OrgDb, query_id: str, reason: str) -> None:
    await SqlQueryRepository(org).update_one({"_id": query_id, "status": "running"}, {"$set": {
        "status": "failed", "error": reason, "finished_at": utcnow()}})


class StillRunning(AmigoError):
    status_code = 202
    error_code = "sql_query_running"
    detail = "The query is still running; try again shortly."
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}


async def result_stream(org: OrgDb, blobs: BlobStore, query_id: str) -> AsyncIterator[bytes]:
    """The CSV of a finished query; 202 while it runs, 400 with the error if it failed."""
    job = await SqlQueryRepository(org).get(query_id)
    if job is None:
        raise NotFound("The query does not exist.", error_code="sql_query_not_found")
    if job["status"] == "running":
        raise StillRunning()
    if job["status"] == "failed":
        raise QueryFailed(str(job.get("error") or "The query failed."))
    return blobs.read_chunks(_result_key(org.org_id, job))
