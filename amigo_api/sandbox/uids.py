"""A uid of its own for each run that is running at the same time, when the worker is root: the kernel counts
processes (RLIMIT_NPROC) and keeps a keyring per uid, so two runs must never share one.

The pool is `count` uids from `first`. A run leases one with an exclusive `flock` on a file per uid in `lock_dir`;
every worker process of the host that uses the same folder (and range) sees the lease, and the kernel drops it
with the process that held it. The pool's size bounds how many runs a host runs at once: past it, a run waits
for a uid. A uid is used again by later runs: what a run could leave behind under its uid (the keyring) is
closed by the system-call filter, and its processes are gone before the lease ends."""

import asyncio
import contextlib
import fcntl
import os
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

RETRY_SECONDS = 0.05


class NoFreeUid(RuntimeError):
    """Every uid of the pool stayed leased for as long as the run could wait."""


@dataclass(frozen=True)
class UidPool:
    first: int
    count: int
    lock_dir: Path

    @contextlib.asynccontextmanager
    async def lease(self, wait_seconds: float) -> AsyncIterator[int]:
        self.lock_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        deadline = time.monotonic() + wait_seconds
        while (held := self._try()) is None:
            if time.monotonic() > deadline:
                raise NoFreeUid(f"All {self.count} sandbox uids ({self.first}-{self.first + self.count - 1}) are in "
                                f"use by runs on this host; raise AMIGO_TOOL_UID_COUNT or run fewer at once.")
            await asyncio.sleep(RETRY_SECONDS)
        uid, handle = held
        try:
            yield uid
        finally:
            os.close(handle)

    def _try(self) -> tuple[int, int] | None:
        for uid in random.sample(range(self.first, self.first + self.count), self.count):
            handle = os.open(self.lock_dir / f"{uid}.lock", os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(handle)
                continue
            return uid, handle
        return None
