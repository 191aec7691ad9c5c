"""The maintenance switch: a flag in the infra-config database that every API process polls."""

import asyncio
import json

import pymongo
import structlog
from pymongo.asynchronous.database import AsyncDatabase
from starlette.types import ASGIApp, Receive, Scope, Send

from amigo_api.core.clock import utcnow
from amigo_api.core.db import Document
from amigo_api.core.errors import Unavailable, error_body

log = structlog.get_logger(__name__)
SWITCHES = "switches"
MAINTENANCE_ID = "maintenance"


async def set_maintenance(infra: AsyncDatabase[Document], enabled: bool) -> None:
    await infra[SWITCHES].update_one({"_id": MAINTENANCE_ID},
                                     {"$set": {"enabled": enabled, "updated_at": utcnow()}}, upsert=True)


STOP_SECONDS = 2.0
REFRESH_SECONDS = 5.0


class MaintenanceSwitch:
    def __init__(self, infra: AsyncDatabase[Document], poll_seconds: float) -> None:
        self.infra = infra
        self.poll_seconds = poll_seconds
        self.enabled = False
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    async def refresh(self) -> None:
        with pymongo.timeout(REFRESH_SECONDS):
            doc = await self.infra[SWITCHES].find_one({"_id": MAINTENANCE_ID})
        enabled = bool(doc and doc.get("enabled"))
        if enabled != self.enabled:
            log.warning("maintenance_mode", enabled=enabled)
        self.enabled = enabled

    async def _poll(self) -> None:
        # The flag as well as the cancellation: PyMongo may turn a cancellation that lands mid-operation into an
        # ordinary error (with a client-side timeout set), which the loop below would otherwise outlive.
        while not self._stopping:
            await asyncio.sleep(self.poll_seconds)
            try:
                await self.refresh()
            except Exception as exc:  # a database blip must not stop the poller
                log.warning("maintenance_poll_failed", error=str(exc))

    async def start(self) -> None:
        await self.refresh()
        self._task = asyncio.create_task(self._poll())

    async def stop(self) -> None:
        self._stopping = True
        if self._task:
            self._task.cancel()
            # A poll stuck on a database that went away first must not hold up the process's exit.
            await asyncio.wait([self._task], timeout=STOP_SECONDS)


class MaintenanceMiddleware:
    """Answers 503 on every `/v1` endpoint while the switch on `app.state.maintenance` is on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1/"):
            switch: MaintenanceSwitch | None = getattr(scope["app"].state, "maintenance", None)
            if switch is not None and switch.enabled:
                await _send_unavailable(send)
                return
        await self.app(scope, receive, send)


_UNAVAILABLE_BODY = json.dumps(error_body(Unavailable.detail, Unavailable.error_code)).encode()


async def _send_unavailable(send: Send) -> None:
    await send({"type": "http.response.start", "status": 503,
                "headers": [(b"content-type", b"application/json"), (b"retry-after", b"60"),
                            (b"content-length", str(len(_UNAVAILABLE_BODY)).encode())]})
    await send({"type": "http.response.body", "body": _UNAVAILABLE_BODY})
