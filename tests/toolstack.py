"""The embedded stack for tool tests (a pytest plugin, `stack`, `http` and `workspace` fixtures): Temporal, the
API as a process, a worker as a process, a wheelhouse repacked from this environment (builds never reach a
package index), and helpers that push projects with stock git and publish them over HTTP."""

import asyncio
import io
import json
import os
import signal
import sys
import tarfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from amigo_api.devstack import ChildProcess, start_temporal
from amigo_api.sandbox.wheelhouse import seed
from amigo_api.settings import Settings
from amigo_api.tools.scaffold import ScaffoldRelease
from tests.conftest import Caller
from tests.gitcli import commit_all, git, remote_url
from tests.live import start_api
from tests.llmstub import LlmStub, llm_stub

TRIAL_KEY = "sk-trial-operator-key-0123456789"
# What the scaffold needs to build and test: pydantic and pytest (with everything they need).
SCAFFOLD_PACKAGES = ["pydantic", "pytest"]


def make_wheelhouse(folder: Path) -> Path:
    seed(folder, SCAFFOLD_PACKAGES)
    return folder


def tool_env(settings: Settings, temporal_address: str, wheelhouse: Path, build_root: Path, task_queue: str
             ) -> dict[str, str]:
    """What the API and the workers share: the database, secret, git root, Temporal and the tools queue."""
    return {"AMIGO_MONGO_URI": settings.mongo_uri, "AMIGO_SECRET_KEY": settings.secret_key,
            "AMIGO_GIT_ROOT": settings.git_root, "AMIGO_BLOB_ROOT": settings.blob_root,
            "AMIGO_TEMPORAL_ADDRESS": temporal_address, "AMIGO_TEMPORAL_REQUIRED": "true",
            "AMIGO_TOOL_TASK_QUEUE": task_queue, "AMIGO_TOOL_BUILD_ROOT": str(build_root),
            "AMIGO_TOOL_FIND_LINKS": json.dumps([str(wheelhouse)]), "AMIGO_TOOL_BUILD_OFFLINE": "true",
            "AMIGO_TOOL_RUN_TIMEOUT_SECONDS": "20", "AMIGO_TOOL_TEST_TIMEOUT_SECONDS": "60"}


def start_worker(env: dict[str, str], log_dir: Path, name: str) -> ChildProcess:
    """A worker of both task queues (the API's health check waits for the main one)."""
    child = ChildProcess(name, [sys.executable, "-m", "amigo_api", "worker"],
                         log_dir / f"{name}.log", env)
    child.start()
    return child


@dataclass
class Workspace:
    """A clone of an organization's tool repository, pushed with stock git."""

    path: Path

    @classmethod
    def clone(cls, url: str, caller: Caller, folder: Path) -> "Workspace":
        git(folder.parent, "clone", "-q", remote_url(url, caller), str(folder))
        return cls(folder)

    def add_scaffold(self, project: str) -> None:
        with tarfile.open(fileobj=io.BytesIO(ScaffoldRelease.load().archive), mode="r:gz") as tar:
            for member in tar.getmembers():
                if member.isfile():
                    target = self.path / project / member.name.split("/", 1)[1]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(tar.extractfile(member).read())  # type: ignore[union-attr]

    def write(self, path: str, content: str) -> None:
        (self.path / path).parent.mkdir(parents=True, exist_ok=True)
        (self.path / path).write_text(content)

    def edit(self, path: str, old: str, new: str) -> None:
        text = (self.path / path).read_text()
        assert old in text, f"{old!r} is not in {path}"
        self.write(path, text.replace(old, new))

    def push(self, message: str) -> str:
        commit = commit_all(self.path, message)
        git(self.path, "push", "-q", "origin", "HEAD")
        return commit


@dataclass
class Stack:
    url: str
    env: dict[str, str]
    log_dir: Path
    build_root: Path
    worker: ChildProcess


@pytest.fixture(scope="session")
def llm() -> Iterator[LlmStub]:
    with llm_stub() as stub:
        yield stub


@pytest.fixture(scope="session")
def stack(settings: Settings, llm: LlmStub, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    temporal, address = start_temporal(tmp_path_factory.mktemp("temporal"))
    log_dir = tmp_path_factory.mktemp("logs")
    build_root = tmp_path_factory.mktemp("tool-builds")
    env = tool_env(settings, address, make_wheelhouse(tmp_path_factory.mktemp("wheels")), build_root,
                   f"tools-{uuid.uuid4().hex[:8]}")
    # The LLM judge's trial is served by the stub, as an operator's provider key would be; the stub listens on
    # loopback, which outbound calls may reach only when the operator allows it.
    env.update(AMIGO_LLM_TRIAL_API_KEY=TRIAL_KEY, AMIGO_LLM_TRIAL_BASE_URL=llm.url, AMIGO_OUTBOUND_ALLOW_PRIVATE="true",
               AMIGO_LLM_EVALUATIONS_TASK_QUEUE=f"llm-evaluations-{uuid.uuid4().hex[:8]}")
    worker = start_worker(env, log_dir, "worker")
    api, url = start_api(settings, log_dir, "api-publish", AMIGO_RATE_LIMIT_SCALE="100", **env)
    try:
        yield Stack(url, env, log_dir, build_root, worker)
    finally:
        worker.stop()
        api.stop()
        temporal.stop()


@pytest.fixture
async def http(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.url, timeout=300) as client:
        yield client


@pytest.fixture
def workspace(stack: Stack, admin: Caller, tmp_path: Path) -> Workspace:
    return Workspace.clone(stack.url, admin, tmp_path / "tools")


async def create_tool(http: httpx.AsyncClient, caller: Caller, name: str, **envvars: tuple[str, bool]) -> str:
    response = await http.post(f"/v1/{caller.org_id}/tool/", headers=caller.headers,
                               json={"name": name, "description": f"The {name} tool.", "tags": {}})
    assert response.status_code == 201, response.text
    tool_id: str = response.json()["id"]
    if envvars:
        inserts = [{"name": n, "value": v, "is_secret": secret} for n, (v, secret) in envvars.items()]
        response = await http.post(f"/v1/{caller.org_id}/tool/{tool_id}/envvar", headers=caller.headers,
                                   json={"inserts": inserts, "updates": [], "deletes": []})
        assert response.status_code == 204, response.text
    return tool_id


async def publish(http: httpx.AsyncClient, caller: Caller, tool_id: str, project: str, bump: str = "major"
                  ) -> httpx.Response:
    return await http.post(f"/v1/{caller.org_id}/tool/{tool_id}/version", headers=caller.headers,
                           json={"project_path": project, "bump_type": bump}, timeout=300)


async def versions(http: httpx.AsyncClient, caller: Caller, tool_id: str) -> list[dict[str, Any]]:
    response = await http.get(f"/v1/{caller.org_id}/tool/{tool_id}/version", headers=caller.headers,
                              params={"sort_by": ["+created_at"]})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["tool_versions"]
    return found


def wait_for(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def sandboxes(worker_pid: int) -> list[int]:
    """The bubblewrap processes a worker started (their sandboxes die with them)."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if fields.get("Name") == "bwrap" and fields.get("PPid", "").strip() == str(worker_pid):
            found.append(int(status.parent.name))
    return found


def alive(pids: list[int]) -> list[int]:
    return [pid for pid in pids if Path(f"/proc/{pid}").exists()]


async def kill_worker_mid_run(stack: Stack, replacement: str) -> list[int]:
    """Once a sandbox of the stack runs, SIGKILL the worker and, once its sandboxes are gone (they die with it),
    start another, as a supervisor would. Returns the sandboxes still running when the replacement started."""
    assert stack.worker.process is not None
    worker = stack.worker.process.pid
    for _ in range(600):
        if running := sandboxes(worker):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("no run started in the sandbox")
    os.kill(worker, signal.SIGKILL)
    stack.worker.process.wait()
    for _ in range(100):
        if not alive(running):
            break
        await asyncio.sleep(0.05)
    left = alive(running)
    stack.worker = start_worker(stack.env, stack.log_dir, replacement)
    return left
