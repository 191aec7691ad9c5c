"""Hog programs run in child processes (`child.py`), so that a program can neither hold the server's event loop or
interpreter lock, nor use more memory than the kernel gives its child, nor outlive its deadline.

A pool of at most `size` children serves one request per child at a time. Each owner (an organization) has at most
`per_owner` requests in children at once, fewer than `size`, so no owner can hold every child. A child that misses
a request's deadline is killed and replaced; one that runs out of memory ends itself and is replaced. The limits
hold per process that owns a pool (an API process, a worker), not across replicas."""

import asyncio
import contextlib
import os
import pickle
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import structlog

from amigo_api.hog.child import FRAME
from amigo_api.hog.evaluation import HogVerdict
from amigo_api.hog.runtime import HogMemoryError, HogTimeout, Limits

log = structlog.get_logger(__name__)
START_SECONDS = 30  # a child that is not ready by then is not started
KILL_GRACE_SECONDS = 1.0  # a child still running a program this long past the program's own deadline is killed
MALLOC_ARENAS = "2"  # glibc's default, one arena a thread up to 8 per core, reserves address space for nothing


class HogBusy(Exception):
    """No child became free for the owner within the wait."""


class HogStopped(Exception):
    """The child ended without answering: `timeout` (killed at the deadline) or `memory` (out of memory)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def verdict(self, limits: Limits) -> HogVerdict:
        """The result a program stopped this way gets: the messages of Hog's own limits."""
        error = HogTimeout(limits) if self.reason == "timeout" else HogMemoryError()
        return HogVerdict(None, None, "", str(error))


class _Child:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, memory_mb: int) -> "_Child":
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "amigo_api.hog.child", str(os.getpid()), str(memory_mb),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, start_new_session=True,
            env={**os.environ, "MALLOC_ARENA_MAX": MALLOC_ARENAS})
        child = cls(process)
        try:
            ready = await asyncio.wait_for(child._receive(), START_SECONDS)
        except BaseException:
            await child.kill()
            raise
        log.debug("hog_child_started", pid=process.pid, baseline=ready[1])
        return child

    async def call(self, request: tuple[Any, ...], seconds: float) -> Any:
        assert self.process.stdin is not None
        payload = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self.process.stdin.write(FRAME.pack(len(payload)) + payload)
            await self.process.stdin.drain()
            return await asyncio.wait_for(self._receive(), seconds)
        except TimeoutError as timeout:
            raise HogStopped("timeout") from timeout
        except (asyncio.IncompleteReadError, ConnectionError) as ended:
            code = await self.process.wait()
            log.warning("hog_child_ended", pid=self.process.pid, returncode=code)
            raise HogStopped("memory") from ended

    async def _receive(self) -> Any:
        assert self.process.stdout is not None
        header = await self.process.stdout.readexactly(FRAME.size)
        return pickle.loads(await self.process.stdout.readexactly(FRAME.unpack(header)[0]))

    async def kill(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGKILL)
        await self.process.wait()


@dataclass
class _Owner:
    slots: asyncio.Semaphore
    waiting: int = 0  # requests of the owner holding or waiting for a slot


class HogPool:
    def __init__(self, size: int, per_owner: int, memory_mb: int) -> None:
        if not 0 < per_owner < size:
            raise ValueError("A Hog pool needs more children than one owner may use at once.")
        self.size, self.per_owner, self.memory_mb = size, per_owner, memory_mb
        self._free = asyncio.Semaphore(size)
        self._owners: dict[str, _Owner] = {}
        self._idle: list[_Child] = []
        self._children: set[_Child] = set()

    async def call(self, owner: str, request: tuple[Any, ...], seconds: float, wait_seconds: float | None = None
                   ) -> Any:
        """Run one request (`child.HANDLERS`) in a child, waiting at most `wait_seconds` for one (HogBusy), and
        at most `seconds` for the answer (HogStopped: the child is killed)."""
        async with self._slot(owner, wait_seconds):
            child = self._idle.pop() if self._idle else await self._start()
            try:
                answer = await child.call(request, seconds)
            except BaseException:  # stopped, cancelled: it may still be running the program
                await self._discard(child)
                raise
            if answer == ("memory",):
                await self._discard(child)
                raise HogStopped("memory")
            self._idle.append(child)
            return answer

    async def evaluate(self, owner: str, program: tuple[Any, ...], event: bytes | dict[str, Any], allows_na: bool,
                       limits: Limits, wait_seconds: float | None = None) -> HogVerdict:
        """`run_hog_eval` in a child (`program`: see `child.evaluate`; `event` as a dict or raw BSON). A child
        stopped at the deadline or out of memory gives the verdict of Hog's own limit; HogBusy when no child
        became free within `wait_seconds`."""
        try:
            answer = await self.call(owner, ("evaluate", program, event, allows_na, limits),
                                     limits.timeout_seconds + KILL_GRACE_SECONDS, wait_seconds)
        except HogStopped as stopped:
            return stopped.verdict(limits)
        verdict: HogVerdict = answer[1]
        return verdict

    async def close(self) -> None:
        for child in list(self._children):
            await self._discard(child)

    async def _start(self) -> _Child:
        child = await _Child.start(self.memory_mb)
        self._children.add(child)
        return child

    async def _discard(self, child: _Child) -> None:
        self._children.discard(child)
        if child in self._idle:
            self._idle.remove(child)
        await child.kill()

    @contextlib.asynccontextmanager
    async def _slot(self, owner: str, wait_seconds: float | None) -> AsyncIterator[None]:
        holder = self._owners.setdefault(owner, _Owner(asyncio.Semaphore(self.per_owner)))
        holder.waiting += 1
        try:
            try:
                async with asyncio.timeout(wait_seconds):
                    await holder.slots.acquire()
                    try:
                        await self._free.acquire()
                    except BaseException:
                        holder.slots.release()
                        raise
            except TimeoutError as busy:
                raise HogBusy() from busy
            try:
                yield
            finally:
                self._free.release()
                holder.slots.release()
        finally:
            holder.waiting -= 1
            if not holder.waiting:
                del self._owners[owner]
