"""What every API benchmark shares: an embedded database, uvicorn processes, and one load generator that drives
our API and a bare FastAPI baseline alike, then prints the ratio as the last line."""

import asyncio
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from amigo_api.devstack import ChildProcess, free_port, start_mongo, wait_until  # noqa: E402
from amigo_api.settings import Settings  # noqa: E402

CONCURRENCY = 8
DURATION = 10.0
ROUNDS = 3


@contextmanager
def processes() -> Iterator[list[ChildProcess]]:
    """Child processes a benchmark starts; all are stopped, newest first, however the benchmark ends."""
    children: list[ChildProcess] = []
    try:
        yield children
    finally:
        for child in reversed(children):
            child.stop()


SeedT = TypeVar("SeedT")


@dataclass
class Stack(Generic[SeedT]):
    work: Path
    env: dict[str, str]  # what an API process needs to use the database
    seeded: SeedT
    children: list[ChildProcess]


@contextmanager
def seeded_stack(prefix: str, seed: Callable[[Settings], Awaitable[SeedT]]) -> Iterator[Stack[SeedT]]:
    """A work folder and an embedded database seeded by `seed`; processes added to `children` are stopped at the
    end, the database last."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    mongo, uri = start_mongo(work)
    with processes() as children:
        children.append(mongo)
        secret = secrets.token_urlsafe(48)
        seeded = asyncio.run(seed(Settings(mongo_uri=uri, secret_key=secret)))
        env = {"AMIGO_MONGO_URI": uri, "AMIGO_SECRET_KEY": secret, "AMIGO_RATE_LIMIT_SCALE": "100000",
               "AMIGO_LOG_LEVEL": "WARNING", "BENCH_MONGO_URI": uri, "PYTHONPATH": str(ROOT)}
        yield Stack(work, env, seeded, children)


@dataclass
class Target:
    name: str
    url: str
    headers: dict[str, str]


def serve(name: str, args: list[str], env: dict[str, str], logs: Path, probe: str) -> tuple[ChildProcess, str]:
    port = free_port()
    child = ChildProcess(name, [sys.executable, "-m", "uvicorn", *args, "--port", str(port), "--log-level",
                                "warning", "--no-access-log"], logs / f"{name}.log", env)
    child.start()
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}{probe}", timeout=2).status_code in (200, 401)
        except httpx.HTTPError:
            return False

    wait_until(up, 60, name, child.process, child.log_file)
    return child, url


async def load(target: Target, path: str, params: dict[str, Any]) -> float:
    """Requests per second over DURATION seconds with CONCURRENCY connections; every answer must be 200."""
    done = 0
    deadline = time.monotonic() + DURATION

    async def worker(http: httpx.AsyncClient) -> None:
        nonlocal done
        while time.monotonic() < deadline:
            response = await http.get(f"{target.url}{path}", params=params, headers=target.headers)
            if response.status_code != 200:
                raise RuntimeError(f"{target.name} answered {response.status_code}: {response.text[:200]}")
            done += 1

    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=CONCURRENCY), timeout=30) as http:
        started = time.monotonic()
        await asyncio.gather(*(worker(http) for _ in range(CONCURRENCY)))
        return done / (time.monotonic() - started)


def run_comparison(metric: str, description: str, path: str, params: dict[str, Any],
                   seed: Callable[[Settings], Awaitable[dict[str, str]]]) -> None:
    """Seed an embedded database, start amigo-api and bench/bare_app.py as uvicorn processes, sign in with the
    credentials `seed` returns, and compare their throughput on `path` over ROUNDS rounds."""
    with seeded_stack("amigo-bench-", seed) as stack:
        work, env, creds, children = stack.work, stack.env, stack.seeded, stack.children
        probe = path.format(org=creds["org_id"])
        ours, ours_url = serve("amigo-api", ["--factory", "amigo_api.app:create_app"], env, work, probe)
        children.append(ours)
        bare, bare_url = serve("bare", ["bench.bare_app:app"], env, work, probe)
        children.append(bare)
        token = httpx.post(f"{ours_url}/v1/{creds['org_id']}/user/signin_with_api_key", headers={
            "x-api-key": creds["api_key"], "x-api-key-id": creds["api_key_id"],
            "x-user-id": creds["user_id"]}).json()["id_token"]
        targets = [Target("amigo-api", ours_url, {"Authorization": f"Bearer {token}"}), Target("bare", bare_url, {})]
        for target in targets:  # warm-up
            asyncio.run(load(target, probe, params))
        rates: dict[str, list[float]] = {t.name: [] for t in targets}
        for round_ in range(ROUNDS):
            for target in targets:
                rates[target.name].append(asyncio.run(load(target, probe, params)))
            print(f"round {round_ + 1}: " + ", ".join(f"{n} {r[-1]:.1f} req/s" for n, r in rates.items()), flush=True)
        ours_mean, bare_mean = (sum(rates[t.name]) / ROUNDS for t in targets)
        print(f"{description}, {CONCURRENCY} connections, {DURATION:.0f}s x {ROUNDS} rounds: amigo-api "
              f"{ours_mean:.1f} req/s, bare FastAPI {bare_mean:.1f} req/s")
        print(f"RESULT {metric}={ours_mean / bare_mean:.2f} target=>=0.85")


# wrk ------------------------------------------------------------------------------------------------

WRK_THREADS = 1
WRK_CONNECTIONS = 16
WRK_SECONDS = 5
WRK_ROUNDS = 4
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


@dataclass
class WrkRound:
    requests_per_second: float
    p50_ms: float
    p99_ms: float


def wrk(url: str, headers: dict[str, str], seconds: int = WRK_SECONDS, script: Path | None = None,
        timeout_seconds: int = 2, connections: int = WRK_CONNECTIONS) -> WrkRound:
    """One wrk run (`script`: a Lua script, e.g. for POST bodies); every answer must be 2xx, and in time."""
    if shutil.which("wrk") is None:
        raise SystemExit("This benchmark needs wrk: apt-get install wrk")
    args = ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds}s", f"--timeout={timeout_seconds}s",
            "--latency", url]
    if script is not None:
        args += ["-s", str(script)]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    output = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    refused = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if refused:
        raise RuntimeError(f"{url} answered {refused.group(1)} requests with an error:\n{output}")
    timeouts = re.search(r"Socket errors: .*timeout (\d+)", output)
    if timeouts and int(timeouts.group(1)):
        raise RuntimeError(f"{url} did not answer {timeouts.group(1)} requests within {timeout_seconds} s:\n{output}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]

    def percentile(p: int) -> float:
        value, unit = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M).groups()  # type: ignore[union-attr]
        return float(value) * _UNITS[unit]

    return WrkRound(rate, percentile(50), percentile(99))


def wrk_comparison(targets: list[Target], path: str) -> dict[str, list[WrkRound]]:
    """Warm each target up, then WRK_ROUNDS rounds alternating between them; prints each round."""
    for target in targets:
        wrk(f"{target.url}{path}", target.headers, seconds=2)
    rounds: dict[str, list[WrkRound]] = {t.name: [] for t in targets}
    for number in range(WRK_ROUNDS):
        for target in targets:
            rounds[target.name].append(wrk(f"{target.url}{path}", target.headers))
        print(f"round {number + 1}: " + ", ".join(
            f"{name} {r[-1].requests_per_second:.0f} req/s p50 {r[-1].p50_ms:.2f} ms p99 {r[-1].p99_ms:.2f} ms"
            for name, r in rounds.items()), flush=True)
    return rounds


def mean(values: list[float]) -> float:
    return sum(values) / len(values)
