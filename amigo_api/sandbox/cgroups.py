"""A control group per run, so that a run's whole footprint is bounded: the memory of all its processes (tmpfs
pages it writes included) and how many processes it has, whatever each process's own limits.

cgroup v2 where the host mounts it (`/sys/fs/cgroup/cgroup.controllers`), else v1's `memory` and `pids`
hierarchies. Runs' groups sit under `amigo-tools/` in each; the worker must be allowed to write there (root on
the host, or a delegated subtree). With v1 and swap on, the limit bounds memory only unless the kernel accounts
swap too (`memory.memsw.*`, `swapaccount=1`); v2 sets `memory.swap.max` to 0. The sandbox's process joins the
group before it executes anything (`command_prefix`); the group's processes are killed and the group removed
when the run ends."""

import asyncio
import contextlib
import os
import signal
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
BASE = "amigo-tools"
JOIN = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"'
JOIN_FAILED = 125
REMOVE_TRIES = 50


class CgroupError(OSError):
    """Runs' groups cannot be made here; the message says why."""


def _write(path: Path, value: str) -> None:
    path.write_text(value)


@dataclass(frozen=True)
class RunGroup:
    """One run's group: a directory in each hierarchy."""

    version: int
    paths: tuple[Path, ...]

    def command_prefix(self) -> list[str]:
        """What runs the sandbox's command inside the group: the shell joins it, then becomes the command."""
        return ["/bin/sh", "-c", JOIN, "sh", *(str(p / "cgroup.procs") for p in self.paths), "--"]

    def out_of_memory(self) -> bool:
        """Whether the kernel killed one of the run's processes for the group's memory limit."""
        events = self.paths[0] / ("memory.events" if self.version == 2 else "memory.oom_control")
        with contextlib.suppress(OSError):
            for line in events.read_text().splitlines():
                name, _, count = line.partition(" ")
                if name == "oom_kill" and int(count or 0) > 0:
                    return True
        return False

    async def remove(self) -> None:
        """Kill what is left of the run, then remove its directories (processes that just exited leave the group
        within a millisecond or so: it is looked at again soon, then less often)."""
        for attempt in range(REMOVE_TRIES):
            if self._kill() == 0 and self._rmdir():
                return
            await asyncio.sleep(min(0.0005 * 2 ** attempt, 0.05))

    def _kill(self) -> int:
        if self.version == 2 and (self.paths[0] / "cgroup.kill").exists():
            with contextlib.suppress(OSError):
                _write(self.paths[0] / "cgroup.kill", "1")
        left = 0
        for path in self.paths:
            with contextlib.suppress(OSError):
                for pid in (path / "cgroup.procs").read_text().split():
                    left += 1
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(pid), signal.SIGKILL)
        return left

    def _rmdir(self) -> bool:
        for path in self.paths:
            try:
                path.rmdir()
            except FileNotFoundError:
                continue
            except OSError:
                return False
        return True


@dataclass(frozen=True)
class CgroupHost:
    version: int
    bases: tuple[Path, ...]  # v2: the base group; v1: the base group in `memory`, then in `pids`

    @classmethod
    def detect(cls, root: Path = ROOT) -> "CgroupHost":
        """The host's hierarchies, with the base groups made; CgroupError says why they cannot be used."""
        try:
            if (root / "cgroup.controllers").exists():
                return cls._unified(root)
            return cls._legacy(root)
        except OSError as error:
            raise CgroupError(f"{error.strerror or error} ({error.filename or root})") from error

    @classmethod
    def _unified(cls, root: Path) -> "CgroupHost":
        missing = {"memory", "pids"} - set((root / "cgroup.controllers").read_text().split())
        if missing:
            raise CgroupError(f"cgroup v2 without the {' and '.join(sorted(missing))} controller")
        base = root / BASE
        base.mkdir(exist_ok=True)
        _write(root / "cgroup.subtree_control", "+memory +pids")
        _write(base / "cgroup.subtree_control", "+memory +pids")
        return cls(2, (base,))

    @classmethod
    def _legacy(cls, root: Path) -> "CgroupHost":
        bases = tuple(root / controller / BASE for controller in ("memory", "pids"))
        for base in bases:
            if not base.parent.is_dir():
                raise CgroupError(f"no cgroup v1 {base.parent.name} hierarchy at {base.parent}")
            base.mkdir(exist_ok=True)
            if not os.access(base, os.W_OK):
                raise CgroupError(f"{base} is not writable")
        return cls(1, bases)

    @contextlib.asynccontextmanager
    async def group(self, memory_bytes: int, max_processes: int) -> AsyncIterator[RunGroup]:
        name = f"run-{uuid.uuid4().hex}"
        group = RunGroup(self.version, tuple(base / name for base in self.bases))
        try:
            for path in group.paths:
                path.mkdir()
            self._limit(group, memory_bytes, max_processes)
            yield group
        finally:
            await group.remove()

    def _limit(self, group: RunGroup, memory_bytes: int, max_processes: int) -> None:
        if self.version == 2:
            (path,) = group.paths
            _write(path / "memory.max", str(memory_bytes))
            with contextlib.suppress(FileNotFoundError):
                _write(path / "memory.swap.max", "0")
            _write(path / "pids.max", str(max_processes))
            return
        memory, pids = group.paths
        _write(memory / "memory.limit_in_bytes", str(memory_bytes))
        with contextlib.suppress(FileNotFoundError):  # swap accounted: bound memory and swap together
            _write(memory / "memory.memsw.limit_in_bytes", str(memory_bytes))
        _write(pids / "pids.max", str(max_processes))
