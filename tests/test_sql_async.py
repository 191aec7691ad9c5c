"""Asynchronous SQL end to end with a real Temporal dev server and worker processes, including a worker killed
mid-query and replaced."""

import asyncio
import csv
import io
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from amigo_api.admin.sql.repository import SqlQueryRepository
from amigo_api.admin.sql.service import result_url
from amigo_api.app import create_app
from amigo_api.devstack import ChildProcess, start_temporal
from amigo_api.settings import Settings
from amigo_api.workflows.worker import has_pollers
from tests.builders import new_service
from tests.conftest import Caller

SLOW = "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 1000000) SELECT count(*) AS n FROM t"


@pytest.fixture(scope="module")
def temporal_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    child, address = start_temporal(tmp_path_factory.mktemp("temporal"))
    yield address
    child.stop()


@pytest.fixture
def async_settings(settings: Settings, temporal_address: str) -> Settings:
    return settings.model_copy(update={"temporal_address": temporal_address, "temporal_required": True,
                                       "temporal_task_queue": f"sql-{uuid.uuid4().hex[:8]}"})


def _worker(settings: Settings, log_dir: Path, name: str) -> ChildProcess:
    child = ChildProcess(name, [sys.executable, "-m", "amigo_api", "worker"], log_dir / f"{name}.log", {
        "AMIGO_MONGO_URI": settings.mongo_uri, "AMIGO_SECRET_KEY": settings.secret_key,
        "AMIGO_BLOB_ROOT": settings.blob_root, "AMIGO_GIT_ROOT": settings.git_root,
        "AMIGO_TEMPORAL_ADDRESS": settings.temporal_address, "AMIGO_TEMPORAL_TASK_QUEUE": settings.temporal_task_queue})
    child.start()
    return child


@pytest.fixture
async def async_app(async_settings: Settings) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    app = create_app(async_settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        yield app, http


async def _wait_for_poller(app: Any, settings: Settings) -> None:
    deadline = time.monotonic() + 60
    while not await has_pollers(app.state.temporal, settings):
        assert time.monotonic() < deadline, "the worker did not start polling"
        await asyncio.sleep(0.3)


async def _wait_for_attempt(org: Any, query_id: str, attempt: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        job = await SqlQueryRepository(org).get(query_id)
        if job is not None and job.get("attempt") == attempt:
            return
        assert time.monotonic() < deadline, f"attempt {attempt} of the query never started"
        await asyncio.sleep(0.1)


async def _submit(http: httpx.AsyncClient, caller: Caller, query: str) -> dict[str, Any]:
    response = await http.post(f"/v1/{caller.org_id}/admin/sql_query", headers=caller.headers,
                               json={"sql_query": query, "async_query": True})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _poll(http: httpx.AsyncClient, url: str, within: float = 90) -> httpx.Response:
    deadline = time.monotonic() + within
    while True:
        response = await http.get(url)
        if response.status_code != 202:
            return response
        assert response.headers["Retry-After"] == "2"
        assert time.monotonic() < deadline, "the query did not finish"
        await asyncio.sleep(0.5)


async def test_async_queries_deliver_csv_through_a_signed_url(async_app: tuple[Any, httpx.AsyncClient],
                                                              async_settings: Settings, admin: Caller,
                                                              tmp_path: Path) -> None:
    app, http = async_app
    await new_service(http, admin, "Async one")
    worker = _worker(async_settings, tmp_path, "worker")
    try:
        await _wait_for_poller(app, async_settings)
        accepted = await _submit(http, admin, "SELECT name, keyterms FROM services UNION ALL "
                                              "SELECT 'extra', NULL ORDER BY name")
        assert accepted["status"] == "running" and accepted["query_id"] in accepted["result_url"]
        done = await _poll(http, accepted["result_url"])
        assert done.status_code == 200, done.text
        assert done.headers["content-type"].startswith("text/csv")
        assert list(csv.reader(io.StringIO(done.text))) == [["name", "keyterms"], ["Async one", '["blood sugar"]'],
                                                           ["extra", ""]]
        failing = await _submit(http, admin, "SELECT CAST('x' AS INTEGER)")
        failed = await _poll(http, failing["result_url"])
        assert failed.status_code == 400 and "Conversion Error" in failed.json()["detail"]
        big = await _submit(http, admin, "SELECT * FROM range(5000)")
        assert len((await _poll(http, big["result_url"])).text.splitlines()) == 5001  # no row cap here
    finally:
        worker.stop()
    parts = urlsplit(accepted["result_url"])
    query = parse_qs(parts.query)
    tampered = f"{parts.path}?expires={int(query['expires'][0]) + 1}&signature={query['signature'][0]}"
    assert (await http.get(tampered)).status_code == 403
    assert (await http.get(f"{parts.path}?expires={query['expires'][0]}&signature={'0' * 64}")).status_code == 403
    already_expired = async_settings.model_copy(update={"sql_result_url_seconds": -5})
    stale = result_url("http://testserver", already_expired, admin.org_id, accepted["query_id"])
    assert (await http.get(stale)).status_code == 403
    refused = await http.post(f"/v1/{admin.org_id}/admin/sql_query", headers=admin.headers,
                              json={"sql_query": "DROP TABLE services", "async_query": True})
    assert refused.status_code == 400


async def test_a_query_survives_its_worker_being_killed(async_app: tuple[Any, httpx.AsyncClient],
                                                       async_settings: Settings, admin: Caller,
                                                       tmp_path: Path) -> None:
    app, http = async_app
    first = _worker(async_settings, tmp_path, "worker-1")
    second: ChildProcess | None = None
    try:
        await _wait_for_poller(app, async_settings)
        accepted = await _submit(http, admin, SLOW)
        org = await app.state.clusters.org_db(admin.org_id)
        await _wait_for_attempt(org, accepted["query_id"], 1)
        await asyncio.sleep(0.5)  # well into the query in the first worker
        assert first.process is not None
        first.process.kill()
        first.process.wait()
        second = _worker(async_settings, tmp_path, "worker-2")
        done = await _poll(http, accepted["result_url"], within=120)
        assert done.status_code == 200 and done.text.splitlines() == ["n", "1000000"]
    finally:
        first.stop()
        if second is not None:
            second.stop()
    job = await SqlQueryRepository(org).get(accepted["query_id"])
    assert job is not None and job["attempt"] >= 2  # the first attempt died with its worker
