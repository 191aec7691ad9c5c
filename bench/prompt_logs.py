"""Downloading 1,000 prompt logs of about 20 KB each as one streamed zip from amigo-api (a uvicorn process on
its own embedded database and blob store): time to first byte, throughput, and the API's peak memory growth.

Runs with no arguments. Last line: RESULT prompt_log_mb_per_s=<MB/s>."""

import asyncio
import io
import os
import random
import statistics
import string
import tempfile
import time
import zipfile
from pathlib import Path

import httpx
from harness import ROOT, processes, serve

from amigo_api.admin.prompt_logs import schemas as s
from amigo_api.admin.prompt_logs.service import record_prompt_log
from amigo_api.bootstrap import bootstrap
from amigo_api.core.blobs import BlobStore
from amigo_api.core.db import Clusters
from amigo_api.devstack import start_mongo
from amigo_api.settings import Settings

LOGS = 1000
LOG_BYTES = 20_000
ROUNDS = 3
ORG = "bench"


def _text(size: int) -> str:
    words = ["".join(random.choices(string.ascii_lowercase, k=random.randint(2, 9))) for _ in range(size // 5)]
    return " ".join(words)[:size]


async def seed(settings: Settings) -> dict[str, str]:
    creds = await bootstrap(settings, ORG, "bench@example.com", "DefaultSuperAdministratorRole")
    clusters = Clusters(settings)
    org = await clusters.org_db(ORG)
    blobs = BlobStore(settings.blob_root)
    system, history = _text(LOG_BYTES // 2), [_text(LOG_BYTES // 8) for _ in range(4)]
    for i in range(LOGS):
        await record_prompt_log(org, blobs, settings.prompt_log_retention_days, s.WritePromptLogRequest(
            log_key=f"bench/conversation-{i // 10:03d}/interaction-{i % 10}", system_prompt=system,
            history_prompts=history, required_permissions=[]))
    await clusters.close()
    return creds


async def download(url: str, headers: dict[str, str]) -> tuple[float, float, bytes]:
    """(seconds to the first body byte, total seconds, body)."""
    async with httpx.AsyncClient(timeout=120) as http:
        started = time.perf_counter()
        first = 0.0
        body = bytearray()
        async with http.stream("GET", url, headers=headers) as response:
            response.raise_for_status()
            async for chunk in response.aiter_raw():
                if not body:
                    first = time.perf_counter() - started
                body += chunk
        return first, time.perf_counter() - started, bytes(body)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="amigo-bench-logs-"))
    mongo, uri = start_mongo(work / "mongo")
    with processes() as children:
        children.append(mongo)
        secret = os.urandom(32).hex()
        settings = Settings(mongo_uri=uri, secret_key=secret, blob_root=str(work / "blobs"))
        print(f"recording {LOGS} prompt logs of about {LOG_BYTES // 1000} KB ...", flush=True)
        creds = asyncio.run(seed(settings))
        env = {"AMIGO_MONGO_URI": uri, "AMIGO_SECRET_KEY": secret, "AMIGO_BLOB_ROOT": settings.blob_root,
               "AMIGO_RATE_LIMIT_SCALE": "100000", "AMIGO_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
        api, url = serve("amigo-api", ["--factory", "amigo_api.app:create_app"], env, work, f"/v1/{ORG}/user/")
        children.append(api)
        token = httpx.post(f"{url}/v1/{ORG}/user/signin_with_api_key", headers={
            "x-api-key": creds["api_key"], "x-api-key-id": creds["api_key_id"],
            "x-user-id": creds["user_id"]}).json()["id_token"]
        headers = {"Authorization": f"Bearer {token}"}
        target = f"{url}/v1/{ORG}/admin/get_prompt_logs/?prompt_log_prefix=bench/"
        before = api.peak_rss_mb()
        firsts, rates = [], []
        for round_ in range(ROUNDS):
            first, total, body = asyncio.run(download(target, headers))
            names = zipfile.ZipFile(io.BytesIO(body)).namelist()
            assert len(names) == 2 * LOGS, len(names)
            firsts.append(first)
            rates.append(len(body) / 1e6 / total)
            print(f"round {round_ + 1}: {len(body) / 1e6:.1f} MB in {total:.2f}s, first byte after "
                  f"{first * 1000:.0f} ms", flush=True)
        growth = api.peak_rss_mb() - before
        print(f"time to first byte (median): {statistics.median(firsts) * 1000:.0f} ms (target < 300 ms)")
        print(f"peak memory growth of the API process: {growth:.1f} MB (target < 50 MB)")
        print(f"RESULT prompt_log_mb_per_s={statistics.median(rates):.1f} target=>=50")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
