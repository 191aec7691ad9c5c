"""`amigo-api dev`: the whole service on embedded defaults, with working credentials."""

import asyncio
import fcntl
import json
import os
import secrets
import signal
import time
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import httpx
from rich.console import Console

from amigo_api.bootstrap import api_key_valid, bootstrap
from amigo_api.core.db import Clusters
from amigo_api.devstack import (
    ChildProcess,
    _executable,
    free_port,
    port_open,
    start_mongo,
    start_temporal,
    wait_until,
)
from amigo_api.devstack.credential import STACK_FILE, clone_recipe
from amigo_api.llm_analytics.service import first_environment
from amigo_api.roles.defaults import SUPER_ADMIN_ROLE
from amigo_api.sandbox.confinement import SandboxUnavailable, check_bubblewrap
from amigo_api.settings import Settings

DEV_ORG = "demo"
DEV_EMAIL = "admin@demo.example.com"
LOCK_FILE = "dev.lock"


def _secret_key(data_dir: Path) -> str:
    path = data_dir / "secret.key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _credentials(settings: Settings, data_dir: Path) -> dict[str, str]:
    """The credentials of the previous run when they still work; new ones otherwise."""
    stack = data_dir / STACK_FILE
    if stack.exists():
        previous = json.loads(stack.read_text())
        keys = ("org_id", "user_id", "api_key_id", "api_key")
        if all(k in previous for k in keys) and asyncio.run(
                api_key_valid(settings, previous["org_id"], previous["api_key_id"])):
            return {k: previous[k] for k in keys}
    return asyncio.run(bootstrap(settings, DEV_ORG, DEV_EMAIL, SUPER_ADMIN_ROLE))


async def _dev_environment(settings: Settings, credentials: dict[str, str]) -> dict[str, str | int]:
    """The demo organization's LLM analytics environment: its id and project token for capture."""
    clusters = Clusters(settings)
    try:
        environment = await first_environment(clusters.infra, credentials["org_id"], {
            "org_id": credentials["org_id"], "user_id": credentials["user_id"]}, "Development")
    finally:
        await clusters.close()
    return {"environment_id": environment.id, "project_token": environment.api_token}


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _warn_without_sandbox(console: Console) -> None:
    try:
        check_bubblewrap()
    except SandboxUnavailable as error:
        console.print(f"[yellow]![/] Publishing tools will be refused until tool code can be confined: {error}")


def _outbound_hint(console: Console, settings: Settings) -> None:
    if not settings.outbound_allow_private and not settings.outbound_allowed_hosts:
        console.print("\nLLM judge provider keys may only call public addresses. To judge with a model server on "
                      "this machine (Ollama, vLLM), start with AMIGO_OUTBOUND_ALLOW_PRIVATE=true, or list it: "
                      "AMIGO_OUTBOUND_ALLOWED_HOSTS='[\"localhost:11434\"]'.", soft_wrap=True, highlight=False)


def _curl_example(stack: dict[str, Any], data_dir: Path) -> str:
    return (
        f"TOKEN=$(curl -s -X POST {stack['api_url']}/v1/{stack['org_id']}/user/signin_with_api_key \\\n"
        f"  -H 'x-api-key: {stack['api_key']}' -H 'x-api-key-id: {stack['api_key_id']}' "
        f"-H 'x-user-id: {stack['user_id']}' \\\n"
        "  | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"id_token\"])')\n"
        f"curl -s {stack['api_url']}/v1/{stack['org_id']}/user/ -H \"Authorization: Bearer $TOKEN\"\n"
        f"{clone_recipe(data_dir, stack['api_url'], stack['org_id'], stack['user_id'])}\n"
        "mkdir -p tools/greeting  # a tool project to start from; the walkthrough: docs/tutorial-tools.md\n"
        f"curl -s {stack['api_url']}/v1/{stack['org_id']}/tool/amigo_tool_scaffold.tar.gz "
        "-H \"Authorization: Bearer $TOKEN\" | tar -xz -C tools/greeting --strip-components=1"
    )


def _lock(data_dir: Path) -> IO[str]:
    """Hold the data dir for as long as this process lives (the kernel drops the lock with the process)."""
    handle = (data_dir / LOCK_FILE).open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        stack = data_dir / STACK_FILE
        url = json.loads(stack.read_text()).get("api_url", "unknown URL") if stack.exists() else "unknown URL"
        raise StackRunning(f"a stack is already running on this data dir (pid {holder}, {url}); stop it first, "
                           "or pass another --data-dir") from None
    handle.truncate(0)
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


class StackRunning(RuntimeError):
    pass


def _api_port(host: str, port: int | None, data_dir: Path) -> int:
    """The port asked for; else the previous run's, so clones keep their remote; else a free one."""
    if port:
        return port
    stack = data_dir / STACK_FILE
    if stack.exists():
        previous = urlsplit(json.loads(stack.read_text()).get("api_url", "")).port
        if previous and not port_open(host, previous):
            return previous
    return free_port(host)


def run_dev(host: str, port: int | None, data_dir: Path, console: Console) -> int:
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        lock = _lock(data_dir)
    except StackRunning as exc:
        console.print(f"[red]✗[/] {exc}", soft_wrap=True)
        return 1
    if port and port_open(host, port):  # before anything starts, not after the database and Temporal
        console.print(f"[red]✗[/] Port {port} on {host} is in use; pass another --port, or none for a free one.",
                      soft_wrap=True)
        return 1
    children: list[ChildProcess] = []
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)
    try:
        with console.status("starting the embedded MongoDB server"):
            mongo, mongo_uri = start_mongo(data_dir)
            children.append(mongo)
        console.print(f"[green]✓[/] MongoDB-wire server at {mongo_uri}")
        with console.status("starting the Temporal dev server"):
            temporal, temporal_address = start_temporal(data_dir)
            children.append(temporal)
        console.print(f"[green]✓[/] Temporal at {temporal_address}")
        env = {"AMIGO_MONGO_URI": mongo_uri, "AMIGO_TEMPORAL_ADDRESS": temporal_address,
               "AMIGO_SECRET_KEY": _secret_key(data_dir), "AMIGO_TEMPORAL_REQUIRED": "true",
               "AMIGO_GIT_ROOT": str(data_dir / "git"), "AMIGO_BLOB_ROOT": str(data_dir / "blobs"),
               "AMIGO_TOOL_BUILD_ROOT": str(data_dir / "tool-builds"),
               # a development machine may not let the worker make cgroups: runs are then bounded by rlimits
               "AMIGO_TOOL_REQUIRE_CGROUPS": os.environ.get("AMIGO_TOOL_REQUIRE_CGROUPS", "false")}
        settings = Settings(mongo_uri=mongo_uri, temporal_address=temporal_address, secret_key=env["AMIGO_SECRET_KEY"])
        with console.status("creating organization credentials"):
            credentials = _credentials(settings, data_dir)
        api_port = _api_port(host, port, data_dir)
        api_url = f"http://{host}:{api_port}"
        amigo = _executable("amigo-api")
        worker = ChildProcess("worker", [amigo, "worker"], data_dir / "logs" / "worker.log", env)
        api = ChildProcess("api", [amigo, "serve", "--host", host, "--port", str(api_port)],
                           data_dir / "logs" / "api.log", env)
        for child in (worker, api):
            child.start()
            children.append(child)
        with console.status("waiting for the API, the worker and their health checks"):
            wait_until(lambda: _healthy(api_url), 90, "the API", api.process, api.log_file)
        _warn_without_sandbox(console)
        stack = {"api_url": api_url, "mongo_uri": mongo_uri, "temporal_address": temporal_address, **credentials,
                 **asyncio.run(_dev_environment(settings, credentials))}
        (data_dir / STACK_FILE).write_text(json.dumps(stack, indent=2))
        os.chmod(data_dir / STACK_FILE, 0o600)
        console.print(f"[green]✓[/] API at {api_url}, its reference at {api_url}/docs (logs in {data_dir / 'logs'})")
        console.print(f"Credentials are in {data_dir / STACK_FILE}. Try:\n")
        print(_curl_example(stack, data_dir), flush=True)
        _outbound_hint(console, settings)
        console.print("\nCtrl-C stops everything.")
        while not stopping:
            dead = [c.name for c in children if not c.running()]
            if dead:
                console.print(f"[red]✗[/] {', '.join(dead)} stopped unexpectedly; see {data_dir / 'logs'}")
                return 1
            time.sleep(0.5)
        return 0
    except RuntimeError as exc:
        console.print(f"[red]✗[/] {exc}")
        return 1
    finally:
        console.print("stopping")
        for child in reversed(children):
            child.stop()
        lock.close()
