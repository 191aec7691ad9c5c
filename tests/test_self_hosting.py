"""Self-hosting: docker-compose.yml checked statically, and what its containers run (`amigo-api temporal`, two
`serve` replicas, `worker`) run here directly with the file's own environment and commands, the service addresses
replaced by the suite's database and loopback ports."""

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import httpx
import pytest
import typer.main
import yaml
from temporalio.service import TLSConfig

from amigo_api import __version__
from amigo_api.bootstrap import initial_credentials
from amigo_api.cli import app as cli_app
from amigo_api.core.db import Clusters
from amigo_api.core.startup import temporal_connection
from amigo_api.devstack import ChildProcess, free_port, wait_until
from amigo_api.settings import Settings
from tests import compose
from tests.conftest import Caller, sign_in
from tests.live import api_up
from tests.toolstack import Workspace, create_tool, make_wheelhouse, publish

ROOT = Path(__file__).resolve().parents[1]
API_USER = 1000  # the image's `amigo` user, who owns the shared volumes
UNREACHABLE_MONGO = "mongodb://127.0.0.1:1/?directConnection=true"


# --- docker-compose.yml, statically ---------------------------------------------------------------------------

def test_the_compose_file_follows_the_compose_specification(tmp_path: Path) -> None:
    def check(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
                               str(path)], capture_output=True, text=True, timeout=120)

    assert check(compose.COMPOSE_FILE).returncode == 0
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(compose.COMPOSE_FILE.read_text().replace("restart: unless-stopped", "restart: [sometimes]", 1))
    assert check(broken).returncode != 0  # the check can fail


def test_every_image_is_pinned_and_ours_carries_the_package_version() -> None:
    services = compose.load()["services"]
    for name, spec in services.items():
        image = spec["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: {image} is not pinned"
        if "build" in spec:
            assert image == f"amigo-api:{__version__}", name
    assert "FROM python:3.11.11-slim-bookworm" in (ROOT / "Dockerfile").read_text()


def test_every_command_and_health_check_of_our_services_is_a_command_of_our_cli() -> None:
    cli = typer.main.get_command(cli_app)
    ours = {name: spec for name, spec in compose.load()["services"].items() if "build" in spec}
    assert set(ours) == {"temporal", "api", "worker"}
    for name in ours:
        service = compose.service(name)
        for command in (service.command(), service.health_command()):
            assert command[0] == "amigo-api", (name, command)
            subcommand = cli.commands[command[1]]  # type: ignore[attr-defined]
            subcommand.make_context(command[1], command[2:])  # raises on an unknown command, option or value


def test_services_start_in_order_restart_and_report_health() -> None:
    services = compose.load()["services"]
    for name in ("mongo", "temporal", "api", "worker"):
        assert services[name]["restart"] == "unless-stopped" and "healthcheck" in services[name], name
    for name in ("api", "worker"):
        assert services[name]["depends_on"] == {"mongo": {"condition": "service_healthy"},
                                                "temporal": {"condition": "service_healthy"}}
    assert "--replSet" in services["mongo"]["command"]
    assert any(volume.endswith(":/data/temporal") for volume in services["temporal"]["volumes"])


def test_only_the_worker_gets_what_the_sandbox_needs() -> None:
    services = compose.load()["services"]
    worker, api = services["worker"], services["api"]
    assert worker["user"] == "root" and worker["cgroup"] == "host"
    assert "/sys/fs/cgroup:/sys/fs/cgroup:rw" in worker["volumes"]
    assert set(worker["security_opt"]) == {"apparmor=unconfined", "systempaths=unconfined"}
    assert "SYS_ADMIN" in worker["cap_add"] and worker["cap_drop"] == ["ALL"]
    assert not {"user", "cap_add", "security_opt", "cgroup", "privileged"} & set(api)


def test_the_build_context_leaves_out_environments_data_and_secrets() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".git", ".venv", ".amigo", "**/__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"} <= ignored


def test_every_setting_the_compose_file_and_the_deploy_guide_name_exists() -> None:
    settings = {f"AMIGO_{name.upper()}" for name in Settings.model_fields}
    for text in (compose.COMPOSE_FILE.read_text(), (ROOT / "docs" / "deploy.md").read_text()):
        named = set(re.findall(r"\bAMIGO_[A-Z0-9_]+", text))
        assert named and named <= settings, named - settings
    for name in ("api", "worker"):
        assert set(compose.service(name).environment({"AMIGO_SECRET_KEY": "k" * 40})) <= settings


def test_the_github_workflow_tests_both_pythons_and_runs_the_compose_stack() -> None:
    jobs = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())["jobs"]
    assert jobs["test"]["strategy"]["matrix"]["python-version"] == ["3.11", "3.13"]
    compose_steps = "\n".join(str(step.get("run", "")) for step in jobs["compose"]["steps"])
    assert "docker compose up -d --build --wait" in compose_steps
    assert "tests/compose_e2e.py" in compose_steps and "/data/init/credentials.json" in compose_steps


# --- what the containers run, run here --------------------------------------------------------------------------

@dataclass
class Deployment:
    data: Path
    env: dict[str, str]
    apis: list[ChildProcess]
    urls: list[str]
    worker: ChildProcess
    temporal: ChildProcess
    org_id: str

    @property
    def credentials_file(self) -> Path:
        return Path(self.env["AMIGO_INIT_CREDENTIALS_FILE"])

    def logs(self, children: list[ChildProcess]) -> str:
        return "".join(child.log_file.read_text() for child in children)


def _on_this_host(env: dict[str, str], data: Path, replacements: dict[str, str]) -> dict[str, str]:
    """The container's environment with the service addresses and the volumes' paths of this host."""
    mapped = {key: str(data / value.removeprefix("/data/")) if value.startswith("/data/") else value
              for key, value in env.items()}
    return {**mapped, **{key: value for key, value in replacements.items() if key in mapped}}


def _as_in_the_container(command: list[str], capabilities: list[str]) -> list[str]:
    """As root, the worker keeps only the capabilities compose gives it (its container's bounding set)."""
    if os.geteuid() != 0:
        return command
    return ["setpriv", "--bounding-set", ",".join(["-all", *(f"+{name}" for name in capabilities)]), *command]


def _serve(data: Path, env: dict[str, str], index: int) -> tuple[ChildProcess, str]:
    port = free_port()
    command = compose.replace_option(compose.replace_option(compose.service("api").command(), "--host", "127.0.0.1"),
                                     "--port", str(port))
    child = ChildProcess(f"api-{index}", compose.ours(command), data / "logs" / f"api-{index}.log", env)
    child.start()
    return child, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def deployment(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    data = tmp_path_factory.mktemp("compose-data")
    for volume in ("git", "blobs", "init", "tool-builds"):
        (data / volume).mkdir()
        if os.geteuid() == 0 and volume != "tool-builds":  # as the image makes them: the worker's is root's
            os.chown(data / volume, API_USER, API_USER)
    temporal_port = free_port()
    temporal_address = f"127.0.0.1:{temporal_port}"
    org_id = f"init{uuid.uuid4().hex[:10]}"
    variables = {"AMIGO_SECRET_KEY": settings.secret_key, "AMIGO_INIT_ORG": org_id}
    addresses = {"AMIGO_MONGO_URI": settings.mongo_uri, "AMIGO_TEMPORAL_ADDRESS": temporal_address}
    local = {"AMIGO_WORKER_HEARTBEAT_FILE": str(data / "worker-heartbeat"),  # the container's /tmp
             # Builds here never reach an index: the scaffold's dependencies come from a local wheelhouse.
             "AMIGO_TOOL_FIND_LINKS": json.dumps([str(make_wheelhouse(data / "wheels"))]),
             "AMIGO_TOOL_BUILD_OFFLINE": "true", "AMIGO_TOOL_RUN_TIMEOUT_SECONDS": "3"}
    api_env = {**_on_this_host(compose.service("api").environment(variables), data, addresses), **local}
    worker_service = compose.service("worker")
    worker_env = {**_on_this_host(worker_service.environment(variables), data, addresses), **local}
    # The API replicas and the worker start before Temporal is up, and wait for it.
    started = [_serve(data, api_env, index) for index in (1, 2)]
    apis, urls = [child for child, _ in started], [url for _, url in started]
    worker = ChildProcess("worker", _as_in_the_container(compose.ours(worker_service.command()),
                                                         worker_service.capabilities()),
                          data / "logs" / "worker.log", worker_env)
    worker.start()
    time.sleep(2)
    temporal_command = compose.service("temporal").command()
    for option, value in (("--db", str(data / "temporal" / "temporal.db")), ("--host", "127.0.0.1"),
                          ("--port", str(temporal_port))):
        temporal_command = compose.replace_option(temporal_command, option, value)
    temporal = ChildProcess("temporal", compose.ours(temporal_command), data / "logs" / "temporal.log")
    temporal.start()
    try:
        for child, url in started:
            wait_until(lambda url=url: api_up(url), 120, child.name, child.process, child.log_file)  # type: ignore[misc]
        yield Deployment(data, api_env, apis, urls, worker, temporal, org_id)
    finally:
        for child in [*apis, worker, temporal]:
            child.stop()


async def _signed_in(deployment: Deployment) -> Caller:
    creds = json.loads(deployment.credentials_file.read_text())
    async with httpx.AsyncClient(base_url=deployment.urls[0]) as http:
        token = await sign_in(http, creds["org_id"], creds)
    return Caller(creds["org_id"], creds["user_id"], creds["api_key_id"], creds["api_key"], token)


async def test_two_replicas_starting_together_make_the_first_credentials_once(deployment: Deployment) -> None:
    file = deployment.credentials_file
    assert file.stat().st_mode & 0o777 == 0o600
    creds = json.loads(file.read_text())
    assert set(creds) == {"org_id", "user_id", "api_key_id", "api_key"} and creds["org_id"] == deployment.org_id
    logs = deployment.logs(deployment.apis)
    assert logs.count('"initial_credentials_written"') == 1 and logs.count('"initial_credentials_made_before"') == 1
    assert str(file) in logs and creds["api_key"] not in logs
    caller = await _signed_in(deployment)
    async with httpx.AsyncClient(base_url=deployment.urls[1], headers=caller.headers) as http:
        users = (await http.get(f"/v1/{caller.org_id}/user/")).json()["users"]
        keys = (await http.get(f"/v1/{caller.org_id}/organization/api_key/")).json()["api_keys"]
    assert [user["email"] for user in users].count("admin@example.com") == 1  # compose's default email
    assert len(keys) == 1


async def test_a_restarted_replica_makes_nothing_new(deployment: Deployment) -> None:
    written = deployment.credentials_file.stat().st_mtime_ns
    first = deployment.apis[0]
    first.stop()
    first.start()
    wait_until(lambda: api_up(deployment.urls[0]), 120, first.name, first.process, first.log_file)
    assert first.log_file.read_text().count('"initial_credentials_made_before"') >= 1
    assert deployment.credentials_file.stat().st_mtime_ns == written


def test_the_services_waited_for_temporal_with_a_line_per_attempt(deployment: Deployment) -> None:
    for child in [*deployment.apis, deployment.worker]:
        waits = [json.loads(line) for line in child.log_file.read_text().splitlines()
                 if '"waiting_for_dependency"' in line]
        assert waits and all(wait["setting"] == "AMIGO_TEMPORAL_ADDRESS" for wait in waits), child.name
        assert waits[0]["address"] == deployment.env["AMIGO_TEMPORAL_ADDRESS"]


@pytest.mark.parametrize("name", ["api", "worker", "temporal"])
def test_each_health_check_passes_on_a_running_service(deployment: Deployment, name: str) -> None:
    command = compose.ours(compose.service(name).health_command())
    if name == "api":  # the container's port is 8000; here the replica listens elsewhere
        command += ["--url", f"{deployment.urls[0]}/healthz"]
    env = {**os.environ, **deployment.env}
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    stale = {**env, "AMIGO_WORKER_HEARTBEAT_FILE": str(deployment.data / "no-such-heartbeat"),
             "AMIGO_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}"}
    failing = subprocess.run([*command[:-2], "--url", f"http://127.0.0.1:{free_port()}/healthz"]
                             if name == "api" else command, capture_output=True, text=True, timeout=60, env=stale)
    assert failing.returncode == 1 and len(failing.stderr.strip().splitlines()) == 1, failing.stderr


INSPECTING_TOOL = """
def run(tool_input: Input, context: Context) -> str:
    if tool_input.name == "status":  # what the sandbox gives this run
        return open("/proc/self/status").read()
    if tool_input.name == "sleep":
        import time
        time.sleep(600)
    title = context.nonsensitive_user_variables.get("title")
    return f"Hello, {title + ' ' if title else ''}{tool_input.name}!"
"""


async def test_a_tool_is_published_and_invoked_from_a_repository_the_api_user_owns(
        deployment: Deployment, tmp_path: Path) -> None:
    caller = await _signed_in(deployment)
    async with httpx.AsyncClient(base_url=deployment.urls[1], headers=caller.headers, timeout=300) as http:
        tool_id = await create_tool(http, caller, "greeting")
        workspace = Workspace.clone(deployment.urls[0], caller, tmp_path / "tools")
        workspace.add_scaffold("greeting")
        tool = workspace.path / "greeting/tool.py"
        tool.write_text(tool.read_text().split("\ndef run(")[0] + INSPECTING_TOOL)
        workspace.push("The greeting tool")
        # In the containers the API's user owns the repositories and the root worker reads them. Here the API
        # runs as root too, and git refuses it a repository another user owns, so they are handed back after.
        with _owned_by(deployment.data / "git", API_USER):
            response = await publish(http, caller, tool_id, "greeting")
        assert response.status_code == 201, response.text
        invoked = await http.post(f"/v1/{caller.org_id}/tool/{tool_id}/version/1.0.0/invoke", json={"inputs": [
            {"input_parameters": {"name": name}, "invocation_mode": "regular", "nonsensitive_user_variables": {},
             "sensitive_user_variables": {}} for name in ("Ada", "status", "sleep")]})
    assert invoked.status_code == 200, invoked.text
    greeting, status, sleep = invoked.json()["invocation_results"]
    assert greeting["output"] == "Hello, Ada!"
    fields = dict(line.split(":\t", 1) for line in status["output"].splitlines() if ":\t" in line)
    assert fields["Uid"].split()[0] != "0"
    if os.geteuid() == 0:  # a uid of its own, with no capability left, not even in its bounding set
        assert int(fields["Uid"].split()[0]) >= Settings().tool_uid_first
        assert {fields[name] for name in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")} == {"0" * 16}
    assert sleep["succeeded"] is False and sleep["exception_type"] == "TimeoutError", sleep
    assert not _processes_of_tool_uids()  # the timed-out run left nothing behind


def _processes_of_tool_uids() -> list[str]:
    settings = Settings()
    tool_uids = range(settings.tool_uid_first, settings.tool_uid_first + settings.tool_uid_count)
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            uid = next(line.split()[1] for line in status.read_text().splitlines() if line.startswith("Uid:"))
        except (OSError, StopIteration):
            continue
        if int(uid) in tool_uids:
            found.append(status.parent.name)
    return found


def test_the_compose_jobs_end_to_end_script_passes(deployment: Deployment) -> None:
    result = subprocess.run([sys.executable, str(ROOT / "tests" / "compose_e2e.py"), "--url", deployment.urls[1],
                             "--credentials", str(deployment.credentials_file)], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "ok"


async def test_what_the_root_worker_writes_to_the_blob_volume_belongs_to_its_owner(deployment: Deployment) -> None:
    caller = await _signed_in(deployment)
    async with httpx.AsyncClient(base_url=deployment.urls[0], headers=caller.headers) as http:
        accepted = await http.post(f"/v1/{caller.org_id}/admin/sql_query",
                                   json={"sql_query": "SELECT 42 AS answer", "async_query": True})
        assert accepted.status_code == 200, accepted.text
        for _ in range(180):
            result = await http.get(accepted.json()["result_url"])
            if result.status_code != 202:
                break
            await asyncio.sleep(0.5)
    assert result.status_code == 200 and result.text.split() == ["answer", "42"], result.text
    blobs = Path(deployment.env["AMIGO_BLOB_ROOT"])
    written = _owners_below(blobs)
    assert any(path.suffix == ".csv" for path in written)
    assert len(set(written.values())) == 1, written  # the owner of the root, whoever wrote below it


def _owners_below(root: Path) -> dict[Path, int]:
    """`root` and everything below it, with its owner's uid."""
    return {path: path.stat().st_uid for path in [root, *root.rglob("*")]}


@contextmanager
def _owned_by(root: Path, uid: int) -> Iterator[None]:
    """Everything under `root` belongs to `uid` while the block runs (as root; else nothing changes)."""
    if os.geteuid() != 0:
        yield
        return
    _chown_tree(root, uid)
    try:
        yield
    finally:
        _chown_tree(root, os.geteuid())


def _chown_tree(root: Path, uid: int) -> None:
    for path in [root, *root.rglob("*")]:
        os.chown(path, uid, uid, follow_symlinks=False)


# --- the first credentials, in process ---------------------------------------------------------------------------

async def test_concurrent_starts_make_one_set_of_credentials(settings: Settings, tmp_path: Path) -> None:
    org_id = f"race{uuid.uuid4().hex[:10]}"
    file = tmp_path / "init" / "credentials.json"
    init = settings.model_copy(update={"init_org": org_id, "init_credentials_file": str(file),
                                       "init_user_email": "ops@example.com"})
    clusters = Clusters(init)
    try:
        made = await asyncio.gather(*(initial_credentials(init, clusters.infra) for _ in range(4)))
        assert made.count(file.resolve()) == 1 and made.count(None) == 3
        assert json.loads(file.read_text())["org_id"] == org_id and file.stat().st_mode & 0o777 == 0o600
        file.unlink()
        assert await initial_credentials(init, clusters.infra) is None and not file.exists()
    finally:
        await clusters.close()


async def test_an_organization_that_exists_gets_no_new_credentials(settings: Settings, make_caller,  # type: ignore[no-untyped-def]
                                                                   new_org_id: str, tmp_path: Path) -> None:
    await make_caller(new_org_id)
    file = tmp_path / "credentials.json"
    init = settings.model_copy(update={"init_org": new_org_id, "init_credentials_file": str(file)})
    clusters = Clusters(init)
    try:
        assert await initial_credentials(init, clusters.infra) is None and not file.exists()
    finally:
        await clusters.close()


def test_init_settings_are_checked_with_one_line_each() -> None:
    result = _cli(["serve"], AMIGO_INIT_ORG="api", AMIGO_INIT_ROLE="Owner", AMIGO_INIT_USER_EMAIL="nobody")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 3, result.stderr
    named = [line.split(":")[0].removeprefix("✗ ") for line in lines]
    assert named == ["AMIGO_INIT_ORG", "AMIGO_INIT_USER_EMAIL", "AMIGO_INIT_ROLE"]


# --- clear CLI failures -------------------------------------------------------------------------------------------

def _cli(args: list[str], timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "amigo_api", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "AMIGO_SECRET_KEY": "k" * 40, **env})


@pytest.mark.parametrize("args", [["bootstrap", "--org", "acme"], ["maintenance", "on"], ["rotate-signing-key"]])
def test_one_shot_commands_give_up_on_an_unreachable_database_in_one_line(args: list[str]) -> None:
    started = time.monotonic()
    result = _cli([*args, "--mongo-uri", UNREACHABLE_MONGO])
    took = time.monotonic() - started
    assert result.returncode == 1 and took < 12, (result.returncode, took)
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert UNREACHABLE_MONGO in line and "--mongo-uri" in line and "Connect call failed" in line


def test_serve_names_an_unreachable_temporal_in_one_line_after_its_wait(settings: Settings) -> None:
    address = f"127.0.0.1:{free_port()}"
    result = _cli(["serve", "--port", str(free_port())], AMIGO_MONGO_URI=settings.mongo_uri,
                  AMIGO_TEMPORAL_REQUIRED="true",
                  AMIGO_TEMPORAL_ADDRESS=address, AMIGO_STARTUP_WAIT_SECONDS="2")
    assert result.returncode == 1
    plain = [line for line in result.stderr.splitlines() if not line.startswith("{")]
    assert len(plain) == 1 and address in plain[0] and "AMIGO_TEMPORAL_ADDRESS" in plain[0], result.stderr
    waits = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert waits and {wait["event"] for wait in waits} == {"waiting_for_dependency"}


def test_worker_names_an_unreachable_database_in_one_line_after_its_wait() -> None:
    result = _cli(["worker"], AMIGO_MONGO_URI=UNREACHABLE_MONGO, AMIGO_STARTUP_WAIT_SECONDS="2")
    assert result.returncode == 1
    plain = [line for line in result.stderr.splitlines() if not line.startswith("{")]
    assert len(plain) == 1 and "AMIGO_MONGO_URI" in plain[0] and UNREACHABLE_MONGO in plain[0], result.stderr


def test_dev_refuses_a_busy_port_before_starting_anything(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        started = time.monotonic()
        result = _cli(["dev", "--port", str(port), "--data-dir", str(tmp_path / "stack")], timeout=30)
        took = time.monotonic() - started
    assert result.returncode == 1 and took < 10, took
    output = result.stdout + result.stderr
    assert f"Port {port}" in output and "MongoDB" not in output
    assert not (tmp_path / "stack" / "mongo").exists()


# --- Temporal beyond one host -------------------------------------------------------------------------------------

def test_temporal_cloud_and_tls_settings_reach_the_client(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "client.pem").write_bytes(b"CERT")
    (tmp_path / "client.key").write_bytes(b"KEY")
    mtls = temporal_connection(settings.model_copy(update={
        "temporal_tls_cert_file": str(tmp_path / "client.pem"), "temporal_tls_key_file": str(tmp_path / "client.key"),
        "temporal_address": "acme.a1b2c.tmprl.cloud:7233", "temporal_namespace": "acme.a1b2c"}))
    assert isinstance(mtls, partial) and mtls.args == ("acme.a1b2c.tmprl.cloud:7233",)
    tls = mtls.keywords["tls"]
    assert isinstance(tls, TLSConfig) and (tls.client_cert, tls.client_private_key) == (b"CERT", b"KEY")
    assert mtls.keywords["namespace"] == "acme.a1b2c" and mtls.keywords["api_key"] is None
    keyed = temporal_connection(settings.model_copy(update={"temporal_api_key": "key-1"}))
    assert isinstance(keyed, partial) and keyed.keywords["tls"] is True and keyed.keywords["api_key"] == "key-1"
    plain = temporal_connection(settings)
    assert isinstance(plain, partial) and plain.keywords["tls"] is False
    with pytest.raises(ValueError, match="go together"):
        Settings(temporal_tls_cert_file=str(tmp_path / "client.pem"))
