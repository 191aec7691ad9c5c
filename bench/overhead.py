"""Throughput of get-users (authenticated, permission-filtered, rate-limited) against a bare FastAPI app
running the same MongoDB query on the same database; both as uvicorn processes, same load generator.

Runs with no arguments on its own embedded database. Last line: RESULT overhead_ratio=<ours/bare>."""

import asyncio
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from amigo_api.bootstrap import bootstrap  # noqa: E402
from amigo_api.core.db import Clusters  # noqa: E402
from amigo_api.devstack import ChildProcess, free_port, start_mongo, wait_until  # noqa: E402
from amigo_api.organizations import service  # noqa: E402
from amigo_api.settings import Settings  # noqa: E402

USERS = 50
PAGE = 20
CONCURRENCY = 8
DURATION = 10.0
ROUNDS = 2


async def seed(settings: Settings) -> dict[str, str]:
    creds = await bootstrap(settings, "bench", "bench@example.com", "DefaultSuperAdministratorRole")
    clusters = Clusters(settings)
    org = await clusters.org_db("bench")
    role = await org.db["roles"].find_one({"org_id": "bench", "name": "DefaultUserRole"})
    assert role is not None
    for i in range(USERS):
        await service.create_user(org, first_name=f"User{i}", last_name="Bench", email=f"user{i}@example.com",
                                  role_id=role["_id"])
    await clusters.close()
    return creds


def serve(name: str, args: list[str], env: dict[str, str], logs: Path) -> tuple[ChildProcess, str]:
    port = free_port()
    child = ChildProcess(name, [sys.executable, "-m", "uvicorn", *args, "--port", str(port), "--log-level",
                                "warning", "--no-access-log"], logs / f"{name}.log", env)
    child.start()
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/v1/bench/user/?limit=1", timeout=2).status_code in (200, 401)
        except httpx.HTTPError:
            return False

    wait_until(up, 60, name, child.process, child.log_file)
    return child, url


async def load(url: str, headers: dict[str, str]) -> float:
    """Requests per second over DURATION seconds with CONCURRENCY connections; every answer must be 200."""
    done = 0
    deadline = time.monotonic() + DURATION

    async def worker(http: httpx.AsyncClient) -> None:
        nonlocal done
        while time.monotonic() < deadline:
            response = await http.get(f"{url}/v1/bench/user/", params={"limit": PAGE}, headers=headers)
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered {response.status_code}: {response.text[:200]}")
            done += 1

    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        started = time.monotonic()
        await asyncio.gather(*(worker(http) for _ in range(CONCURRENCY)))
        return done / (time.monotonic() - started)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="amigo-bench-"))
    mongo, uri = start_mongo(work)
    children = [mongo]
    try:
        secret = secrets.token_urlsafe(48)
        settings = Settings(mongo_uri=uri, secret_key=secret)
        creds = asyncio.run(seed(settings))
        env = {"AMIGO_MONGO_URI": uri, "AMIGO_SECRET_KEY": secret, "AMIGO_RATE_LIMIT_SCALE": "100000",
               "AMIGO_LOG_LEVEL": "WARNING", "BENCH_MONGO_URI": uri, "PYTHONPATH": str(ROOT)}
        ours, ours_url = serve("amigo-api", ["--factory", "amigo_api.app:create_app"], env, work)
        bare, bare_url = serve("bare", ["bench.bare_app:app"], env, work)
        children += [ours, bare]
        token = httpx.post(f"{ours_url}/v1/bench/user/signin_with_api_key", headers={
            "x-api-key": creds["api_key"], "x-api-key-id": creds["api_key_id"],
            "x-user-id": creds["user_id"]}).json()["id_token"]
        auth = {"Authorization": f"Bearer {token}"}
        asyncio.run(load(ours_url, auth))  # warm-up both
        asyncio.run(load(bare_url, {}))
        ours_rps, bare_rps = [], []
        for round_ in range(ROUNDS):
            ours_rps.append(asyncio.run(load(ours_url, auth)))
            bare_rps.append(asyncio.run(load(bare_url, {})))
            print(f"round {round_ + 1}: amigo-api {ours_rps[-1]:.1f} req/s, bare {bare_rps[-1]:.1f} req/s",
                  flush=True)
        ours_mean, bare_mean = sum(ours_rps) / ROUNDS, sum(bare_rps) / ROUNDS
        print(f"get-users, page of {PAGE} of {USERS + 2} users, {CONCURRENCY} connections, {DURATION:.0f}s x "
              f"{ROUNDS} rounds: amigo-api {ours_mean:.1f} req/s, bare FastAPI {bare_mean:.1f} req/s")
        print(f"RESULT overhead_ratio={ours_mean / bare_mean:.2f} target=>=0.85")
    finally:
        for child in reversed(children):
            child.stop()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
