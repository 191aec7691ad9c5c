"""The sandbox from inside: a hostile tool, built like any other, tries to read the service's files and
secrets, reach its ports, exhaust the machine and outlive its run. Each attempt fails inside the tool, the
caller gets a result (never an exception), and no process of the run is left behind."""

import json
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import structlog

import amigo_api
from amigo_api.sandbox import confinement
from amigo_api.sandbox.builds import Build, BuildConfig, ensure_build
from amigo_api.sandbox.confinement import Limits, Mounts, SandboxUnavailable, write_minimal_etc
from amigo_api.sandbox.runner import HARNESS, RunnerConfig, RunOutcome, run_harness
from amigo_api.settings import Settings
from tests.toolstack import make_wheelhouse

pytestmark = pytest.mark.skipif(os.geteuid() != 0 and not Path("/usr/bin/bwrap").exists(),
                                reason="needs bubblewrap")

HOSTILE = '''
import json, os, socket, subprocess, time
from pydantic import BaseModel


class Input(BaseModel):
    action: str
    target: str = ""


def run(tool_input: Input, context: dict) -> str:
    action, target = tool_input.action, tool_input.target
    if action == "read":
        return open(target).read()[:200]
    if action == "listdir":
        return ",".join(os.listdir(target))
    if action == "environ":
        return json.dumps(dict(os.environ))
    if action == "connect":
        host, port = target.rsplit(":", 1)
        socket.create_connection((host, int(port)), timeout=2).close()
        return "connected"
    if action == "forkbomb":
        while True:
            if os.fork() == 0:
                time.sleep(3599.5)
                os._exit(0)
    if action == "allocate":
        return str(len(bytearray(4 * 1024 ** 3)))
    if action == "bigfile":
        with open("/tmp/big", "wb") as f:
            for _ in range(1024):
                f.write(b"\\0" * 1024 * 1024)
        return "written"
    if action == "sleep":
        time.sleep(3599.5)
    if action == "orphan":
        subprocess.Popen(["sleep", "3599.5"], start_new_session=True)
        return "spawned"
    if action == "whoami":
        return f"{os.getuid()} {os.geteuid()} {os.getgid()}"
    if action == "write":
        open(target, "w").write("x")
        return "wrote"
    if action == "raise":
        raise ValueError("no " + target)
    if action == "value":
        return {"a": [1, 2]}
    return "?"
'''
PYPROJECT = '''[project]
name = "hostile"
version = "0"
requires-python = ">=3.11"
dependencies = ["pydantic>=2"]

[tool.amigo]
entrypoint = "tool:run"
'''
LIMITS = Limits(wall_seconds=5, cpu_seconds=10, memory_mb=512, max_processes=32, max_open_files=64, max_file_mb=16)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=a", "-c", "user.email=a@example.com", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    repo = tmp_path_factory.mktemp("repo")
    _git(repo, "init", "-q", "-b", "main")
    (repo / "hostile").mkdir()
    (repo / "hostile" / "tool.py").write_text(HOSTILE)
    (repo / "hostile" / "pyproject.toml").write_text(PYPROJECT)
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "hostile")
    config = BuildConfig(tmp_path_factory.mktemp("builds"), None,
                         [str(make_wheelhouse(tmp_path_factory.mktemp("wheels")))], True, 300)
    import asyncio
    return asyncio.run(ensure_build(repo / ".git", _git(repo, "rev-parse", "HEAD"), "hostile",
                                    _git(repo, "rev-parse", "HEAD:hostile"), config))


@pytest.fixture(scope="module")
def mounts(build: Build) -> Mounts:
    return Mounts(build.env, build.project, HARNESS, write_minimal_etc(build.path.parent / ".etc"))


def _leftovers() -> list[str]:
    """Processes of a run still alive: the harness, or the tool's `sleep 3599.5` children."""
    found = []
    for status in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            command = status.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "3599.5" in command or "/tool/harness.py" in command:
            found.append(command)
    return found


@pytest.fixture
def no_leftovers() -> Iterator[None]:
    yield
    assert _leftovers() == []


async def _invoke(mounts: Mounts, action: str, target: str = "", env: dict[str, str] | None = None,
                  confined: bool = True) -> RunOutcome:
    return await run_harness("invoke", {"entrypoint": "tool:run", "input": {"action": action, "target": target},
                                        "context": {}}, mounts, env or {}, RunnerConfig(LIMITS, confined=confined))


def _raised(outcome: RunOutcome) -> tuple[str, str]:
    assert outcome.answer is not None and outcome.answer["succeeded"] is False, outcome
    return outcome.answer["exception_type"], outcome.answer["exception_message"]


async def test_a_tool_runs_and_answers(mounts: Mounts, no_leftovers: None) -> None:
    value = await _invoke(mounts, "value")
    assert value.answer == {"succeeded": True, "output": '{"a": [1, 2]}', "duration_ms": value.answer["duration_ms"]}
    raised = await _invoke(mounts, "raise", "way")
    assert _raised(raised) == ("ValueError", "no way")
    assert raised.answer is not None
    trace = raised.answer["exception_stack_trace"]
    assert trace == ['File "tool.py", line 46, in run: raise ValueError("no " + target)']


async def test_it_runs_as_nobody_when_the_worker_is_root(mounts: Mounts) -> None:
    outcome = await _invoke(mounts, "whoami")
    assert outcome.answer is not None
    expected = "65534 65534 65534" if os.geteuid() == 0 else f"{os.getuid()} {os.geteuid()} {os.getgid()}"
    assert outcome.answer["output"] == expected


async def test_the_services_files_are_out_of_sight(mounts: Mounts, settings: Settings, no_leftovers: None) -> None:
    service_files = Path(amigo_api.__file__).parent
    for folder in (settings.git_root, settings.blob_root, str(service_files), str(mounts.env.parent.parent)):
        assert _raised(await _invoke(mounts, "listdir", folder))[0] == "FileNotFoundError", folder
    assert _raised(await _invoke(mounts, "read", str(service_files / "settings.py")))[0] == "FileNotFoundError"
    # pid 1 is the sandbox's own init, whose memory the tool's uid may not read.
    assert _raised(await _invoke(mounts, "read", "/proc/1/environ"))[0] in ("PermissionError", "FileNotFoundError")
    assert _raised(await _invoke(mounts, "write", "/tool/project/tool.py"))[0] == "OSError"
    assert set((await _invoke(mounts, "listdir", "/")).answer["output"].split(",")) <= {  # type: ignore[index]
        "tmp", "dev", "proc", "usr", "bin", "sbin", "lib", "lib64", "etc", "tool", *Path(
            confinement.interpreter_prefix()).parts[1:2]}


async def test_only_declared_variables_reach_the_tool(mounts: Mounts, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AMIGO_SECRET_KEY", "the-service-secret")
    outcome = await _invoke(mounts, "environ", env={"REGION": "eu"})
    assert outcome.answer is not None
    seen: dict[str, Any] = json.loads(outcome.answer["output"])
    assert seen["REGION"] == "eu"
    assert not [name for name in seen if name.startswith("AMIGO_")]
    assert "the-service-secret" not in outcome.answer["output"]


async def test_no_network_but_its_own_loopback(mounts: Mounts, settings: Settings) -> None:
    with socket.socket() as listener:  # stands for the API's port
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        api_port = listener.getsockname()[1]
        mongo = urlsplit(settings.mongo_uri)
        for target in (f"127.0.0.1:{api_port}", f"{mongo.hostname}:{mongo.port}"):
            assert _raised(await _invoke(mounts, "connect", target))[0] == "ConnectionRefusedError", target


async def test_exhaustion_fails_inside_the_tool(mounts: Mounts, no_leftovers: None) -> None:
    assert _raised(await _invoke(mounts, "forkbomb"))[0] == "BlockingIOError"
    assert _raised(await _invoke(mounts, "allocate"))[0] == "MemoryError"
    exception_type, message = _raised(await _invoke(mounts, "bigfile"))
    assert exception_type == "OSError" and "File too large" in message


async def test_timeouts_and_orphans_take_the_whole_tree(mounts: Mounts, no_leftovers: None) -> None:
    slept = await _invoke(mounts, "sleep")
    assert slept.answer is None and slept.failure_type == "TimeoutError"
    assert "within 5 s" in slept.failure_message
    orphan = await _invoke(mounts, "orphan")
    assert orphan.answer is not None and orphan.answer["output"] == "spawned"


async def test_without_bubblewrap_runs_are_refused_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(confinement.shutil, "which", lambda _: None)
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
        confinement.check_bubblewrap.__wrapped__()


async def test_unconfined_runs_warn_every_time(mounts: Mounts) -> None:
    with structlog.testing.capture_logs() as logs:
        for _ in range(2):
            outcome = await _invoke(mounts, "whoami", confined=False)
            assert outcome.answer is not None and outcome.answer["succeeded"]
    assert [entry["event"] for entry in logs if entry["log_level"] == "warning"] == ["tool_run_unconfined"] * 2
