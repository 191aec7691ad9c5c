"""What every tool activity shares: the worker's settings and database clients, refusals mapped to their
HTTP status, and heartbeats while a long step runs."""

import asyncio
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from temporalio import activity

from amigo_api.core.db import Clusters, OrgDb
from amigo_api.core.errors import AmigoError
from amigo_api.sandbox.builds import BuildFailed
from amigo_api.sandbox.confinement import SandboxUnavailable
from amigo_api.settings import Settings
from amigo_api.tools.outcomes import rejection

P = ParamSpec("P")
T = TypeVar("T")


def rejecting(function: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Refusals (our errors, a failed build, a worker that cannot confine) end the request with their
    status; anything else is an infrastructure failure, for Temporal's retry policy."""
    @wraps(function)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await function(*args, **kwargs)
        except AmigoError as error:
            raise rejection(error.status_code, error.error_code, error.detail) from error
        except BuildFailed as error:
            raise rejection(400, "tool_build_failed", str(error)) from error
        except SandboxUnavailable as error:
            raise rejection(503, "tool_sandbox_unavailable", str(error)) from error
    return run


class WorkerContext:
    """What the tool activities of one worker process share: its settings and its database clients (one
    connection pool for every activity, instead of one per activity)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clusters = Clusters(settings)

    async def org(self, org_id: str) -> OrgDb:
        return await self.clusters.org_db(org_id)

    async def close(self) -> None:
        await self.clusters.close()


async def while_heartbeating(work: Awaitable[T], tick: Callable[[], Awaitable[None]] | None = None,
                             tick_seconds: float = 10.0) -> T:
    """Heartbeat every second (and call `tick` every `tick_seconds`) until `work` is done."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    ticked = loop.time()
    try:
        while not task.done():
            activity.heartbeat()
            if tick is not None and loop.time() - ticked > tick_seconds:
                await tick()
                ticked = loop.time()
            await asyncio.wait([task], timeout=1)
        return task.result()
    finally:
        task.cancel()
