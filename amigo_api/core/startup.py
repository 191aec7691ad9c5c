"""Waiting for what a process depends on (MongoDB, Temporal) at start-up: retried with a log line each time, so a
slow database or Temporal never needs a manual restart, and given up after a deadline with one sentence naming
the address and the setting. One-shot commands give up within seconds; `serve` and `worker` wait longer."""

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pymongo
import structlog
from temporalio.client import Client
from temporalio.service import TLSConfig

from amigo_api.core.db import Clusters
from amigo_api.settings import Settings

log = structlog.get_logger(__name__)
FIRST_DELAY, MAX_DELAY = 0.5, 5.0
ATTEMPT_SECONDS = 3.0  # one attempt's own time limit
USERINFO = re.compile(r"//[^@/]*@")


class DependencyUnavailable(RuntimeError):
    """A dependency stayed unreachable until the deadline; the message names its address and setting."""


@dataclass(frozen=True)
class Dependency:
    name: str  # "MongoDB"
    address: str  # as configured, its password hidden
    setting: str  # "AMIGO_MONGO_URI"


def redacted(uri: str) -> str:
    return USERINFO.sub("//***@", uri)


async def wait_for(dependency: Dependency, attempt: Callable[[], Awaitable[Any]], seconds: float,
                   log_retries: bool = True) -> Any:
    """What `attempt` returns once it succeeds; DependencyUnavailable once `seconds` have passed without (the last
    attempt may run ATTEMPT_SECONDS past them, so that the reason given is the dependency's own error)."""
    deadline = time.monotonic() + seconds
    delay, tries = FIRST_DELAY, 0
    while True:
        tries += 1
        try:
            return await asyncio.wait_for(attempt(), ATTEMPT_SECONDS + 1)
        except Exception as error:  # whatever the driver raises: the next attempt, or the one sentence
            reason = _reason(error)
            left = deadline - time.monotonic()
            if left <= 0:
                raise DependencyUnavailable(
                    f"{dependency.name} at {dependency.address} cannot be reached ({reason}); check "
                    f"{dependency.setting} and that {dependency.name} is running.") from error
            if log_retries:
                log.warning("waiting_for_dependency", dependency=dependency.name, address=dependency.address,
                            setting=dependency.setting, attempt=tries, error=reason)
            await asyncio.sleep(min(delay, left))
            delay = min(delay * 2, MAX_DELAY)


def _reason(error: Exception) -> str:
    """The first clause of the error's first line: drivers append their whole configuration after it."""
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text.split(" (configured timeouts")[0].split(", Timeout:")[0][:200]


async def mongo_ping(client: Any) -> None:
    with pymongo.timeout(ATTEMPT_SECONDS):
        await client.admin.command("ping")


async def wait_for_clusters(clusters: Clusters, seconds: float, default_setting: str = "AMIGO_MONGO_URI",
                            log_retries: bool = True) -> None:
    """Every configured MongoDB cluster answers a ping."""
    settings = clusters.settings
    for name, uri in clusters.uris.items():
        setting = default_setting if name == settings.default_cluster else f"AMIGO_MONGO_CLUSTERS ({name})"
        await wait_for(Dependency("MongoDB", redacted(uri), setting), partial(mongo_ping, clusters.client(name)),
                       seconds, log_retries)


async def wait_for_databases(settings: Settings) -> None:
    clusters = Clusters(settings)
    try:
        await wait_for_clusters(clusters, settings.startup_wait_seconds)
    finally:
        await clusters.close()


def temporal_connection(settings: Settings) -> Callable[[], Awaitable[Client]]:
    """How to connect to the configured Temporal: plain, TLS, TLS with a client certificate, or an API key."""
    tls: bool | TLSConfig = settings.temporal_tls or bool(settings.temporal_api_key)
    if settings.temporal_tls_cert_file or settings.temporal_tls_ca_file:
        tls = TLSConfig(client_cert=_read(settings.temporal_tls_cert_file),
                        client_private_key=_read(settings.temporal_tls_key_file),
                        server_root_ca_cert=_read(settings.temporal_tls_ca_file))
    return partial(Client.connect, settings.temporal_address, namespace=settings.temporal_namespace,
                   api_key=settings.temporal_api_key, tls=tls)


def _read(path: str | None) -> bytes | None:
    return Path(path).read_bytes() if path else None


async def connect_temporal(settings: Settings, seconds: float | None = None) -> Client:
    """A client of the Temporal server, waited for `seconds` (default: AMIGO_STARTUP_WAIT_SECONDS)."""
    dependency = Dependency("Temporal", settings.temporal_address, "AMIGO_TEMPORAL_ADDRESS")
    client: Client = await wait_for(dependency, temporal_connection(settings),
                                    settings.startup_wait_seconds if seconds is None else seconds)
    return client


async def wait_for_dependencies(settings: Settings) -> None:
    """What `serve` checks before it listens: every MongoDB cluster and, when required, Temporal."""
    await wait_for_databases(settings)
    if settings.temporal_required:
        await connect_temporal(settings)
