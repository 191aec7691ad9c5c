"""Command line: serve | worker | dev | bootstrap | maintenance | rotate-signing-key."""

import asyncio
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from amigo_api.settings import Settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="The Amigo API service.")
console = Console(stderr=True)


@app.callback()
def _logging() -> None:
    """Logs go to stderr as JSON, so stdout carries only what a command prints on purpose."""
    from amigo_api.core.observability import configure_logging

    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)


def _settings(mongo_uri: str | None = None) -> Settings:
    return Settings(mongo_uri=mongo_uri) if mongo_uri else Settings()


MIN_SECRET_KEY = 32


def _require_secret_key() -> None:
    if len(Settings().secret_key) < MIN_SECRET_KEY:
        console.print(f"[red]✗[/] AMIGO_SECRET_KEY must be set to at least {MIN_SECRET_KEY} characters (it encrypts "
                      "signing keys and secrets at rest), e.g. export AMIGO_SECRET_KEY=$(openssl rand -base64 48)",
                      soft_wrap=True)
        raise typer.Exit(1)


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Run the API against the configured MongoDB and Temporal (AMIGO_* environment variables)."""
    from amigo_api.server import run

    _require_secret_key()
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
    asyncio.run(run_worker(_settings(), main=queue != Queue.tools, tools=queue != Queue.main))


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
    try:
        result = asyncio.run(run_bootstrap(settings, org, email or f"operator@{org}.example.com", role.value,
                                           cluster))
    except AmigoError as exc:
        console.print(f"[red]✗[/] {exc.detail}")
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

    asyncio.run(run())
    console.print("rotated; API processes pick the new key up within a minute")


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
    from amigo_api.devstack.credential import answer, read_request

    request = read_request(sys.stdin)
    if operation == "get":
        sys.stdout.write(answer(data_dir.resolve(), request))


def main() -> None:
    app()

