"""The sandbox from inside: a hostile tool, built like any other, tries to read the service's files and
secrets, reach its ports, exhaust the machine, outlive its run, and reach other runs through the kernel (the
keyring, the uid's process count, memory, /tmp, the host's process list). Each attempt fails inside the tool,
the caller gets a result (never an exception), and no process of the run is left behind."""

import asyncio
import json
import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import structlog

import amigo_api
from amigo_api.sandbox import confinement
from amigo_api.sandbox.builds import Build, BuildConfig, ensure_build
from amigo_api.sandbox.cgroups import CgroupError, CgroupHost
from amigo_api.sandbox.confinement import Limits, Mounts, SandboxUnavailable, write_minimal_etc
from amigo_api.sandbox.runner import HARNESS, Isolation, RunnerConfig, RunOutcome, run_harness
from amigo_api.sandbox.uids import NoFreeUid, UidPool
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
    if action == "syscalls":
        return json.dumps(probe_syscalls())
    if action == "threads":
        import threading
        started = [threading.Thread(target=time.sleep, args=(0.2,)) for _ in range(8)]
        for thread in started:
            thread.start()
        return subprocess.run(["/usr/bin/true"]).returncode == 0 and "threads and a subprocess"
    if action == "hold":
        for _ in range(int(target)):
            if os.fork() == 0:
                time.sleep(3599.5)
                os._exit(0)
        time.sleep(4)
        return f"held {target} as {os.getuid()}"
    if action == "children":
        pids = []
        for _ in range(6):
            pid = os.fork()
            if pid == 0:
                block = bytearray(700 * 1024 * 1024)
                memoryview(block)[::4096] = b"\\1" * (len(block) // 4096)
                time.sleep(2)
                os._exit(0)
            pids.append(pid)
        return json.dumps([os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids])
    if action == "tmpfill":
        written = 0
        try:
            for index in range(30):
                with open(f"/tmp/fill{index}", "wb") as f:
                    f.write(b"\\0" * 50 * 1024 * 1024)
                written += 50
        except OSError as error:
            return f"{written} MB, then {error.strerror}"
        return f"{written} MB"
    return "?"


def probe_syscalls():
    """Each call the filter denies, tried with harmless arguments: the errno it gets."""
    import ctypes, platform
    numbers = {"x86_64": {"add_key": 248, "request_key": 249, "keyctl": 250, "unshare": 272, "setns": 308,
                          "mount": 165, "ptrace": 101, "bpf": 321, "perf_event_open": 298, "userfaultfd": 323,
                          "init_module": 175, "kexec_load": 246, "reboot": 169, "swapon": 167,
                          "clock_settime": 227, "personality": 135, "clone": 56, "clone3": 435,
                          "open_by_handle_at": 304, "io_uring_setup": 425},
               "aarch64": {"add_key": 217, "request_key": 218, "keyctl": 219, "unshare": 97, "setns": 268,
                           "mount": 40, "ptrace": 117, "bpf": 280, "perf_event_open": 241, "userfaultfd": 282,
                           "init_module": 105, "kexec_load": 104, "reboot": 142, "swapon": 224,
                           "clock_settime": 112, "personality": 92, "clone": 220, "clone3": 435,
                           "open_by_handle_at": 265, "io_uring_setup": 425}}[platform.machine()]
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    arguments = {"add_key": (b"user", b"amigo-probe", b"secret", 6, -4), "keyctl": (0, -4, 0),
                 "request_key": (b"user", b"amigo-probe", None, -4), "unshare": (0x10000000,), "setns": (-1, 0),
                 "ptrace": (0,), "personality": (0x0040000,), "clone": (0x10000000 | 17, 0, 0, 0, 0),
                 "clone3": (0, 0), "io_uring_setup": (1, 0), "userfaultfd": (0,)}
    found = {}
    for name, number in numbers.items():
        result = libc.syscall(number, *arguments.get(name, (0, 0, 0, 0, 0)))
        if result == 0 and name == "clone":
            os._exit(0)  # a child made by a clone the filter let through
        found[name] = ctypes.get_errno() if result == -1 else f"returned {result}"
    return found
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
                  confined: bool = True, config: RunnerConfig | None = None) -> RunOutcome:
    return await run_harness("invoke", {"entrypoint": "tool:run", "input": {"action": action, "target": target},
                                        "context": {}}, mounts, env or {},
                             config or RunnerConfig(LIMITS, confined=confined))


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


# Isolation between runs: the system-call filter, a uid and a cgroup of their own ---------------------------------

RUN_LIMITS = Limits(wall_seconds=8, cpu_seconds=20, memory_mb=1024, max_processes=32, max_open_files=64,
                    max_file_mb=64, run_memory_mb=1024, tmp_mb=256)
root_with_cgroups = pytest.mark.skipif(os.geteuid() != 0, reason="a uid per run and cgroups need a root worker")


@pytest.fixture(scope="module")
def isolated(tmp_path_factory: pytest.TempPathFactory) -> RunnerConfig:
    try:
        cgroups = CgroupHost.detect()
    except CgroupError as error:  # a root worker that cannot keep runs apart is a broken host, not a pass
        pytest.fail(f"a root worker must be able to make a cgroup per run (mount /sys/fs/cgroup writable): {error}")
    uids = UidPool(210_000, 4, tmp_path_factory.mktemp("uid-locks"))
    return RunnerConfig(RUN_LIMITS, isolation=Isolation(uids, cgroups, require_cgroups=True))


def _output(outcome: RunOutcome) -> Any:
    assert outcome.answer is not None and outcome.answer["succeeded"], outcome
    return outcome.answer["output"]


async def test_the_filter_denies_the_kernels_shared_and_privileged_calls(mounts: Mounts, no_leftovers: None
                                                                        ) -> None:
    errors = json.loads(_output(await _invoke(mounts, "syscalls")))
    assert errors.pop("clone3") == 38  # ENOSYS: the C library falls back to clone, whose flags are filtered
    assert errors == {name: 1 for name in errors}  # EPERM: clone with CLONE_NEWUSER, the keyring, unshare, ...
    assert _output(await _invoke(mounts, "threads")) == "threads and a subprocess"


@root_with_cgroups
async def test_concurrent_runs_share_no_uid_and_no_process_budget(mounts: Mounts, isolated: RunnerConfig,
                                                                  no_leftovers: None) -> None:
    holding = asyncio.create_task(_invoke(mounts, "hold", "31", config=isolated))
    await asyncio.sleep(1.5)  # the first run now holds every process its budget allows
    other = await _invoke(mounts, "threads", config=isolated)
    assert _output(other) == "threads and a subprocess"
    whoami = _output(await _invoke(mounts, "whoami", config=isolated))
    held = _output(await holding)
    assert held.startswith("held 31 as 2100") and whoami.split()[0] != held.split()[-1]
    keyring = json.loads(_output(await _invoke(mounts, "syscalls", config=isolated)))
    assert keyring["add_key"] == keyring["keyctl"] == keyring["request_key"] == 1  # nothing to leave for a later run


@root_with_cgroups
async def test_a_run_is_bounded_as_a_whole(mounts: Mounts, isolated: RunnerConfig, no_leftovers: None) -> None:
    children = _invoke(mounts, "children", config=isolated)
    outcome = await children
    if outcome.answer is not None:  # the tool saw its children killed by the kernel
        assert -9 in json.loads(_output(outcome)), outcome
    else:  # or the harness itself was the one killed
        assert outcome.failure_type == "MemoryError" and "1024 MB together" in outcome.failure_message
    filled = _output(await _invoke(mounts, "tmpfill", config=isolated))
    assert filled.startswith(("200 MB, then", "250 MB, then")) and "No space left on device" in filled


@root_with_cgroups
async def test_no_process_on_the_host_shows_a_secret_in_its_command_line(mounts: Mounts, isolated: RunnerConfig,
                                                                        no_leftovers: None) -> None:
    secret = f"sk-{uuid.uuid4().hex}"
    sleeping = asyncio.create_task(_invoke(mounts, "sleep", env={"API_TOKEN": secret}, config=isolated))
    await asyncio.sleep(2)
    command_lines = _command_lines()
    assert any(b"/tool/harness.py" in line for line in command_lines)  # the run is there
    assert not [line for line in command_lines if secret.encode() in line]
    assert (await sleeping).failure_type == "TimeoutError"


def _command_lines() -> list[bytes]:
    found = []
    for path in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            found.append(path.read_bytes())
        except OSError:
            continue
    return found


async def test_without_cgroups_runs_are_refused_unless_allowed(mounts: Mounts) -> None:
    required = RunnerConfig(LIMITS, isolation=Isolation(None, None, "no cgroup here", require_cgroups=True))
    with pytest.raises(SandboxUnavailable, match="no cgroup here.*AMIGO_TOOL_REQUIRE_CGROUPS=false"):
        await _invoke(mounts, "whoami", config=required)
    allowed = RunnerConfig(LIMITS, isolation=Isolation(None, None, "no cgroup here", require_cgroups=False))
    assert _output(await _invoke(mounts, "value", config=allowed)) == '{"a": [1, 2]}'


async def test_uids_are_leased_one_run_at_a_time_across_processes(tmp_path: Path) -> None:
    pool = UidPool(220_000, 2, tmp_path)
    holder = await asyncio.create_subprocess_exec("flock", str(tmp_path / "220000.lock"), "sleep", "30")
    try:  # another worker's lease
        await asyncio.sleep(0.3)
        async with pool.lease(1) as first:
            assert first == 220_001
            with pytest.raises(NoFreeUid, match="All 2 sandbox uids"):
                async with pool.lease(0.2):
                    pass
        async with pool.lease(1) as again:
            assert again == 220_001
    finally:
        holder.kill()
        await holder.wait()


@root_with_cgroups
async def test_a_runs_cgroup_is_made_with_its_limits_and_removed() -> None:
    try:
        host = CgroupHost.detect()
    except CgroupError as error:
        pytest.fail(f"a root worker must be able to make a cgroup per run (mount /sys/fs/cgroup writable): {error}")
    async with host.group(256 * 1024 * 1024, 16) as group:
        assert all(path.is_dir() for path in group.paths)
        memory_limit = "memory.max" if host.version == 2 else "memory.limit_in_bytes"
        assert (group.paths[0] / memory_limit).read_text().strip() == str(256 * 1024 * 1024)
        assert (group.paths[-1] / "pids.max").read_text().strip() == "16"
    assert not any(path.exists() for path in group.paths)
