"""The fixed cost of every request: get-models with a valid token (authentication, permission, rate limit, no
database work) against a bare FastAPI app answering the same bytes, each one uvicorn process with the same
settings, driven by wrk (1 thread, 16 connections, 5 s rounds, alternating). amigo-api runs on its defaults
(access log lines included) but for a rate-limit scale at which nothing is refused.

Runs with no arguments on its own embedded database. Last line: RESULT get_models_overhead_ratio=<ours/bare>."""

import asyncio
import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from harness import ROOT, Target, mean, processes, serve, wrk_comparison

from amigo_api.bootstrap import bootstrap
from amigo_api.devstack import ChildProcess, start_mongo
from amigo_api.settings import Settings

ORG = "bench"
PATH = f"/v1/{ORG}/admin/get_models/"


@dataclass
class Stack:
    ours: ChildProcess
    target: Target
    work: Path
    children: list[ChildProcess]


@contextmanager
def get_models_stack() -> Iterator[Stack]:
    """An embedded database, one organization and amigo-api signed in; stopped when the block ends."""
    work = Path(tempfile.mkdtemp(prefix="amigo-bench-"))
    mongo, uri = start_mongo(work)
    with processes() as children:
        children.append(mongo)
        secret = secrets.token_urlsafe(48)
        creds = asyncio.run(bootstrap(Settings(mongo_uri=uri, secret_key=secret), ORG, "bench@example.com",
                                      "DefaultSuperAdministratorRole"))
        env = {"AMIGO_MONGO_URI": uri, "AMIGO_SECRET_KEY": secret, "AMIGO_RATE_LIMIT_SCALE": "1000000",
               "AMIGO_GIT_ROOT": str(work / "git"), "AMIGO_BLOB_ROOT": str(work / "blobs"),
               "PYTHONPATH": str(ROOT)}
        ours, ours_url = serve("amigo-api", ["--factory", "amigo_api.app:create_app"], env, work, "/healthz")
        children.append(ours)
        token = httpx.post(f"{ours_url}/v1/{ORG}/user/signin_with_api_key", headers={
            "x-api-key": creds["api_key"], "x-api-key-id": creds["api_key_id"],
            "x-user-id": creds["user_id"]}).json()["id_token"]
        yield Stack(ours, Target("amigo-api", ours_url, {"Authorization": f"Bearer {token}"}), work, children)


def main() -> None:
    with get_models_stack() as stack:
        body = httpx.get(f"{stack.target.url}{PATH}", headers=stack.target.headers)
        body.raise_for_status()
        (stack.work / "body.json").write_bytes(body.content)
        env = {"BENCH_BODY_FILE": str(stack.work / "body.json"), "PYTHONPATH": str(ROOT)}
        bare, bare_url = serve("bare", ["bench.bare_models:app"], env, stack.work, PATH)
        stack.children.append(bare)
        rounds = wrk_comparison([stack.target, Target("bare", bare_url, {})], PATH)
        rates = {name: mean([r.requests_per_second for r in rounds[name]]) for name in rounds}
        for name, per_round in rounds.items():
            print(f"{name}: {rates[name]:.0f} req/s, p50 {mean([r.p50_ms for r in per_round]):.2f} ms, "
                  f"p99 {mean([r.p99_ms for r in per_round]):.2f} ms")
        ours, bare_rate = rates["amigo-api"], rates["bare"]
        print(f"per request: amigo-api {1e6 / ours:.0f} us, bare {1e6 / bare_rate:.0f} us, "
              f"our own cost {1e6 / ours - 1e6 / bare_rate:.0f} us")
        print(f"RESULT get_models_overhead_ratio={ours / bare_rate:.2f} target=>=0.5")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
