"""Latency of an aggregate over 100,000 tool-invocation-like documents through the SQL endpoint: cold (first
query: the snapshot is read from the database) and warm (no writes since the previous query: the cached
snapshot is reused). The API runs in-process on its own embedded database; the documents have the shape the
tools domain stores and are read through its declared `tool_invocations` table (a struct version number, the
invocation status as JSON).

Runs with no arguments. Last line: RESULT sql_warm_p50_ms=<ms>."""

import asyncio
import os
import random
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from harness import ROOT  # noqa: F401  (puts the project on the path)

from amigo_api.app import create_app
from amigo_api.bootstrap import bootstrap
from amigo_api.core.clock import utcnow
from amigo_api.core.ids import new_id
from amigo_api.devstack import start_mongo
from amigo_api.settings import Settings
from amigo_api.tools.repository import ToolInvocationRepository

DOCUMENTS = 100_000
WARM_QUERIES = 20
ORG = "bench"
QUERY = ("SELECT tool_id, tool_version.minor AS minor, count(*) AS calls, avg(duration_ms) AS mean_ms, "
         "count(*) FILTER (WHERE json_extract_string(invocation_status, '$.succeeded') = 'true') / count(*) "
         "AS success_rate FROM tool_invocations WHERE created_at > now() - INTERVAL 30 DAY "
         "GROUP BY ALL ORDER BY calls DESC")


def invocation(now: datetime, i: int) -> dict[str, object]:
    succeeded = random.random() > 0.1
    status = {"succeeded": True, "output": f"result {i}"} if succeeded else {
        "succeeded": False, "exception_message": "boom", "exception_type": "RuntimeError",
        "exception_stack_trace": ["  File \"tool.py\", line 3, in run"]}
    created = now - timedelta(minutes=i % 40_000)
    return {"_id": new_id(), "tool_id": f"{i % 25:024x}", "version_id": f"{i % 100:024x}",
            "tool_version": {"major": 1, "minor": i % 4, "patch": 0}, "invocation_status": status,
            "invocation_source": {"type": "regular-conversation", "user_id": f"{i % 50:024x}",
                                  "conversation_id": f"{i % 997:024x}", "interaction_id": None,
                                  "invocation_metadata": {}},
            "duration_ms": random.randint(5, 5000), "inputs": {"nonsensitive_user_variables": {"n": str(i)},
                                                               "invocation_mode": "regular"},
            "created_at": created, "updated_at": created}


async def run() -> None:
    work = Path(tempfile.mkdtemp(prefix="amigo-bench-sql-"))
    mongo, uri = start_mongo(work / "mongo")
    try:
        settings = Settings(mongo_uri=uri, secret_key=os.urandom(32).hex(), blob_root=str(work / "blobs"),
                            rate_limit_scale=100000, log_level="WARNING")
        creds = await bootstrap(settings, ORG, "bench@example.com", "DefaultSuperAdministratorRole")
        app = create_app(settings)
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=120) as http:
            org = await app.state.clusters.org_db(ORG)
            now = utcnow()
            print(f"inserting {DOCUMENTS} tool invocations ...", flush=True)
            for start in range(0, DOCUMENTS, 10_000):
                await ToolInvocationRepository(org).insert_many(
                    [invocation(now, i) for i in range(start, start + 10_000)])
            token = (await http.post(f"/v1/{ORG}/user/signin_with_api_key", headers={
                "x-api-key": creds["api_key"], "x-api-key-id": creds["api_key_id"],
                "x-user-id": creds["user_id"]})).json()["id_token"]

            async def query() -> float:
                started = time.perf_counter()
                response = await http.post(f"/v1/{ORG}/admin/sql_query", headers={"Authorization": f"Bearer {token}"},
                                           json={"sql_query": QUERY, "async_query": False})
                response.raise_for_status()
                assert sum(row[2] for row in response.json()["result"]) > 0
                return (time.perf_counter() - started) * 1000

            cold = await query()
            warm = [await query() for _ in range(WARM_QUERIES)]
        print(f"aggregate over {DOCUMENTS} documents: cold {cold:.0f} ms (target <= 5000 ms), warm p50 "
              f"{statistics.median(warm):.0f} ms, p90 {sorted(warm)[int(0.9 * len(warm))]:.0f} ms over "
              f"{WARM_QUERIES} queries (target p50 <= 150 ms)")
        print(f"RESULT sql_warm_p50_ms={statistics.median(warm):.0f} target=<=150")
    finally:
        mongo.stop()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    asyncio.run(run())
