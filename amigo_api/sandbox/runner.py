"""One run of tool code: the harness in its own confined process, with a wall-clock timeout that kills the
whole process tree, its answer read from a pipe of its own, and every way it can end turned into a result
(never an exception for the caller to map to a 500)."""

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from amigo_api.sandbox.cgroups import CgroupHost, RunGroup
from amigo_api.sandbox.confinement import (
    ENV_MOUNT,
    HARNESS_MOUNT,
    NOBODY,
    Limits,
    MiB,
    Mounts,
    SandboxUnavailable,
    bwrap_command,
    bwrap_options,
    check_bubblewrap,
    unconfined_command,
)
from amigo_api.sandbox.seccomp import filter_program
from amigo_api.sandbox.uids import NoFreeUid, UidPool

log = structlog.get_logger(__name__)
HARNESS = Path(__file__).with_name("harness.py")
MAX_ANSWER_BYTES = 2 * 1024 * 1024  # more than a run may hand back (tools/runs.py), less than a pipe can carry
LOG_TAIL_BYTES = 16 * 1024
CGROUP_HINT = ("Run the worker as root with the cgroup hierarchies writable (docs/tools.md, \"Isolation between "
               "runs\"), or set AMIGO_TOOL_REQUIRE_CGROUPS=false to run tools bounded by per-process limits only.")
BWRAP_PROCESSES = 2  # bubblewrap and its namespace's init, in the run's cgroup beside the tool's processes
RUNTIME_ENV = {"PATH": f"{ENV_MOUNT}/bin:/usr/bin:/bin", "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8",
               "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}


@dataclass(frozen=True)
class RunOutcome:
    """The harness's answer, or why there is none (`failure_type`: TimeoutError, MemoryError, ProcessExited)."""

    answer: dict[str, Any] | None
    failure_type: str | None
    failure_message: str
    log_tail: str

    @property
    def succeeded(self) -> bool:
        return self.answer is not None


@dataclass(frozen=True)
class RunnerConfig:
    limits: Limits
    confined: bool = True
    network: bool = False
    isolation: "Isolation" = field(default_factory=lambda: Isolation())


async def _read_capped(reader: asyncio.StreamReader, cap: int, keep_tail: bool) -> tuple[bytes, bool]:
    """Everything up to `cap` bytes (or the last `cap` bytes), and whether there was more."""
    data, overflow = bytearray(), False
    while chunk := await reader.read(65536):
        data += chunk
        if len(data) > cap:
            overflow = True
            data = data[-cap:] if keep_tail else data[:cap]
    return bytes(data), overflow


async def _open_pipe() -> tuple[asyncio.StreamReader, int]:
    read_fd, write_fd = os.pipe()
    reader = asyncio.StreamReader(limit=MAX_ANSWER_BYTES)
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read_fd, "rb", 0))
    return reader, write_fd


def _kill_tree(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # bwrap leads its own group; the sandbox dies with it


def _signal_of(returncode: int) -> int | None:
    if returncode < 0:
        return -returncode
    return returncode - 128 if returncode > 128 else None  # bwrap exits 128+N for a child killed by N


def _failure(returncode: int, timed_out: bool, limits: Limits) -> tuple[str, str]:
    if timed_out:
        return "TimeoutError", f"The tool did not finish within {limits.wall_seconds:g} s and was stopped."
    number = _signal_of(returncode)
    if number == signal.SIGXCPU:
        return "TimeoutError", f"The tool used more than {limits.cpu_seconds} s of CPU time and was stopped."
    if number == signal.SIGKILL:
        return "MemoryError", f"The tool was killed, most likely for using more than {limits.memory_mb} MB."
    if number == signal.SIGXFSZ:
        return "ProcessExited", f"The tool wrote a file larger than {limits.max_file_mb} MB and was stopped."
    if number is not None:
        return "ProcessExited", f"The tool's process was killed by {signal.Signals(number).name} before answering."
    return "ProcessExited", f"The tool's process exited with code {returncode} before answering."


def _decoded(answer: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(answer)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


@dataclass(frozen=True)
class Isolation:
    """What keeps runs apart beyond bubblewrap (docs/tools.md, "Isolation between runs"): a uid of their own when
    the worker is root, and a cgroup each. Without cgroups, runs are refused when `require_cgroups`, otherwise
    they run bounded by rlimits only."""

    uids: UidPool | None = None
    cgroups: CgroupHost | None = None
    cgroup_error: str = "cgroups were not set up"
    require_cgroups: bool = False


def _memfd(name: str, content: bytes) -> int:
    handle = os.memfd_create(name, os.MFD_CLOEXEC)  # only bwrap gets it (`pass_fds`)
    os.write(handle, content)
    os.lseek(handle, 0, os.SEEK_SET)
    return handle


async def run_harness(mode: str, request: dict[str, Any], mounts: Mounts, env: dict[str, str],
                      config: RunnerConfig, wall_seconds: float | None = None) -> RunOutcome:
    """Run the harness in `mode` on `request`; raises only SandboxUnavailable (the worker cannot confine)."""
    argv = [f"{ENV_MOUNT}/bin/python", "-I", "-B", HARNESS_MOUNT, mode]
    wall = wall_seconds or config.limits.wall_seconds
    if not config.confined:
        log.warning("tool_run_unconfined", hint="AMIGO_TOOL_SANDBOX=false: tool code runs without any isolation; "
                                                "never use this outside development.")
        return await _run(lambda fd: unconfined_command([*argv, str(fd)], mounts, config.limits), request,
                          {**RUNTIME_ENV, **env}, (), mounts, config.limits, wall, None)
    check_bubblewrap()
    isolation = config.isolation
    if isolation.cgroups is None and isolation.require_cgroups:
        raise SandboxUnavailable(f"Each run needs a cgroup of its own and none can be made on this worker "
                                 f"({isolation.cgroup_error}). {CGROUP_HINT}")
    as_root = os.geteuid() == 0
    async with contextlib.AsyncExitStack() as stack:
        uid: int | None = None
        if as_root:
            uid = await stack.enter_async_context(_leased(isolation.uids, wall)) if isolation.uids else NOBODY
        group = await stack.enter_async_context(isolation.cgroups.group(
            config.limits.run_memory_mb * MiB, config.limits.max_processes + BWRAP_PROCESSES)) \
            if isolation.cgroups else None
        seccomp_fd = _memfd("seccomp", filter_program())
        options = bwrap_options(mounts, {**RUNTIME_ENV, **env}, config.limits, network=config.network,
                                as_root=as_root, seccomp_fd=seccomp_fd)
        args_fd = _memfd("bwrap-args", "".join(f"{option}\0" for option in options).encode())
        stack.callback(os.close, seccomp_fd)
        stack.callback(os.close, args_fd)
        prefix = group.command_prefix() if group else []
        count_processes = uid is not None or group is None
        outcome = await _run(lambda fd: prefix + bwrap_command(args_fd, [*argv, str(fd)], config.limits, uid=uid,
                                                               count_processes=count_processes),
                             request, {}, (seccomp_fd, args_fd), mounts, config.limits, wall, group)
    return outcome


@contextlib.asynccontextmanager
async def _leased(uids: UidPool, wall_seconds: float) -> AsyncIterator[int]:
    try:
        async with uids.lease(wall_seconds) as uid:
            yield uid
    except NoFreeUid as busy:
        raise SandboxUnavailable(str(busy)) from busy


async def _run(command: Callable[[int], list[str]], request: dict[str, Any], env: dict[str, str],
               fds: tuple[int, ...], mounts: Mounts, limits: Limits, wall_seconds: float, group: RunGroup | None
               ) -> RunOutcome:
    answers, write_fd = await _open_pipe()
    try:
        process = await asyncio.create_subprocess_exec(
            *command(write_fd), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, pass_fds=(write_fd, *fds), start_new_session=True, env=env,
            cwd=str(mounts.project))
    finally:
        os.close(write_fd)
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(json.dumps(request).encode())
    process.stdin.close()
    output = asyncio.create_task(_read_capped(process.stdout, LOG_TAIL_BYTES, keep_tail=True))
    answer = asyncio.create_task(_read_capped(answers, MAX_ANSWER_BYTES, keep_tail=False))
    timed_out = False
    try:
        await asyncio.wait_for(process.wait(), wall_seconds)
    except TimeoutError:
        timed_out = True
        _kill_tree(process)
        await process.wait()
    finally:
        if process.returncode is None:  # cancelled: the tree must not outlive the activity
            _kill_tree(process)
    log_tail = (await output)[0].decode(errors="replace")
    answer_bytes, too_big = await answer
    if not timed_out and answer_bytes and not too_big:
        decoded = _decoded(answer_bytes)
        if decoded is None:
            return RunOutcome(None, "ProcessExited", "The tool's answer could not be read: something in the tool "
                                                     "wrote to the harness's answer pipe.", log_tail)
        return RunOutcome(decoded, None, "", log_tail)
    if too_big:
        return RunOutcome(None, "ProcessExited", f"The tool's answer is larger than {MAX_ANSWER_BYTES} bytes.",
                          log_tail)
    if group is not None and not timed_out and group.out_of_memory():
        return RunOutcome(None, "MemoryError", f"The tool's processes used more than {limits.run_memory_mb} MB "
                                               "together and were stopped.", log_tail)
    failure_type, message = _failure(process.returncode or 0, timed_out, limits)
    return RunOutcome(None, failure_type, message, log_tail)
