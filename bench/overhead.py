"""The fixed cost of every request: get-models with a valid token (authentication, permission, rate limit, no
database work) against a bare FastAPI app answering the same bytes, each one uvicorn process with the same
settings, driven by wrk (1 thread, 16 connections, 5 s rounds, alternating). amigo-api runs on its defaults
(access log lines included) but for a rate-limit scale at which nothing is refused.

Runs with no arguments on its own embedded database. Last line: RESULT get_models_overhead_ratio=<ours/bare>."""

import asyncio
import os
import secrets
import tempfile
from pathlib import Path

import httpx
from harness import ROOT, Target, mean, processes, serve, wrk_comparison

from amigo_api.bootstrap import bootstrap
from amigo_api.devstack import start_mongo
from amigo_api.settings import Settings

ORG = "bench"
PATH = f"/v1/{ORG}/admin/get_models/"


def main() -> None:
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
        headers = {"Authorization": f"Bearer {token}"}
        body = httpx.get(f"{ours_url}{PATH}", headers=headers)
        body.raise_for_status()
        (work / "body.json").write_bytes(body.content)
        bare, bare_url = serve("bare", ["bench.bare_models:app"], {**env, "BENCH_BODY_FILE": str(work / "body.json")},
                               work, PATH)
        children.append(bare)
        rounds = wrk_comparison([Target("amigo-api", ours_url, headers), Target("bare", bare_url, {})], PATH)
        ours_rate, bare_rate = (mean([r.requests_per_second for r in rounds[name]]) for name in ("amigo-api", "bare"))
        for name in ("amigo-api", "bare"):
            print(f"{name}: {mean([r.requests_per_second for r in rounds[name]]):.0f} req/s, "
                  f"p50 {mean([r.p50_ms for r in rounds[name]]):.2f} ms, "
                  f"p99 {mean([r.p99_ms for r in rounds[name]]):.2f} ms")
        print(f"per request: amigo-api {1e6 / ours_rate:.0f} us, bare {1e6 / bare_rate:.0f} us, "
              f"our own cost {1e6 / ours_rate - 1e6 / bare_rate:.0f} us")
        print(f"RESULT get_models_overhead_ratio={ours_rate / bare_rate:.2f} target=>=0.5")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
