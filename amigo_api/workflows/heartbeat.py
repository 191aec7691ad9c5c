"""How a container's health check sees its process: the worker touches a file every HEARTBEAT_SECONDS from its
event loop (a loop that hangs stops touching it), and the API answers `/healthz`."""

import asyncio
import contextlib
import time
from pathlib import Path

import anyio
import httpx

from amigo_api.core.startup import temporal_connection
from amigo_api.settings import Settings

HEARTBEAT_SECONDS = 10
STALE_SECONDS = 60


async def beat(path: Path, stop: asyncio.Event) -> None:
    file = anyio.Path(path)
    await file.parent.mkdir(parents=True, exist_ok=True)
    while not stop.is_set():
        await file.touch()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), HEARTBEAT_SECONDS)


def healthy_worker(settings: Settings) -> str | None:
    """None when the worker beat within STALE_SECONDS, else why it is not healthy."""
    path = Path(settings.worker_heartbeat_file)
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return f"The worker has not written its heartbeat ({path}) yet."
    return None if age <= STALE_SECONDS else f"The worker's heartbeat ({path}) is {age:.0f} s old."


async def healthy_temporal(settings: Settings) -> str | None:
    try:
        await asyncio.wait_for(temporal_connection(settings)(), 5)
    except Exception as error:  # whatever the client raises, the container is not healthy
        return f"Temporal does not answer at {settings.temporal_address}: {type(error).__name__}."
    return None


def healthy_api(url: str) -> str | None:
    try:
        answer = httpx.get(url, timeout=5)
    except httpx.HTTPError as error:
        return f"The API does not answer at {url}: {type(error).__name__}."
    return None if answer.status_code == 200 else f"The API answers {answer.status_code} at {url}."
