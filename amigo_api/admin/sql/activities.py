"""Activities of the asynchronous SQL query; they run in the worker process with its own settings."""

import asyncio
from typing import Any

from temporalio import activity

from amigo_api.admin.sql import service as sql
from amigo_api.core.blobs import BlobStore
from amigo_api.core.db import Clusters
from amigo_api.settings import get_settings


async def _heartbeat_until_done(task: "asyncio.Task[Any]") -> None:
    while not task.done():
        activity.heartbeat()
        await asyncio.wait([task], timeout=1)


@activity.defn(name="run_sql_query")
async def run_sql_query(org_id: str, query_id: str, timeout_seconds: float) -> str:
    settings = get_settings()
    clusters = Clusters(settings)
    try:
        org = await clusters.org_db(org_id)
        work = asyncio.create_task(sql.execute_async_query(org, settings, BlobStore(settings.blob_root), query_id,
                                                           timeout_seconds, activity.info().attempt))
        await _heartbeat_until_done(work)
        return work.result()
    finally:
        await clusters.close()


@activity.defn(name="mark_sql_query_failed")
async def mark_sql_query_failed(org_id: str, query_id: str, reason: str) -> None:
    settings = get_settings()
    clusters = Clusters(settings)
    try:
        await sql.record_failure(await clusters.org_db(org_id), query_id, f"The query could not be run: {reason}")
    finally:
        await clusters.close()
