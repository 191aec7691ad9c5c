"""The blob store: large bodies kept outside MongoDB (prompt-log bodies, SQL result files). The embedded default
is a directory; keys are relative paths made of safe segments, so nothing is written outside the root.

The API and the worker share the directory, and in a container the worker runs as root (its sandbox needs it):
what a root process writes is handed to the owner of the root, so the API, running as that user, can read and
remove it."""

import os
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterable
from datetime import datetime, timedelta
from pathlib import Path

import anyio

CHUNK = 256 * 1024
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.=-]{0,200}$")


class BlobStore:
    def __init__(self, root: str) -> None:
        self.root = Path(root).resolve()

    def path(self, key: str) -> Path:
        parts = key.split("/")
        if not all(_SEGMENT.match(p) and ".." not in p for p in parts):
            raise ValueError(f"invalid blob key {key!r}")
        return self.root.joinpath(*parts)

    def write_bytes(self, key: str, data: bytes) -> None:
        """Atomic: readers see the whole blob or none of it."""
        self.write_chunks(key, [data])

    def write_chunks(self, key: str, chunks: Iterable[bytes]) -> int:
        target = self.path(key)
        owner = self._owner()
        self._make_folders(target.parent, owner)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        size = 0
        try:
            if owner:
                os.fchown(handle, *owner)
            with os.fdopen(handle, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                    size += len(chunk)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return size

    def _owner(self) -> tuple[int, int] | None:
        """The (uid, gid) to give what this process writes: the root's, when this process is root and it is not."""
        if os.geteuid() != 0:
            return None
        self.root.mkdir(parents=True, exist_ok=True)
        info = self.root.stat()
        return (info.st_uid, info.st_gid) if info.st_uid != 0 else None

    def _make_folders(self, folder: Path, owner: tuple[int, int] | None) -> None:
        missing = []
        while not folder.is_dir():
            missing.append(folder)
            folder = folder.parent
        for made in reversed(missing):
            made.mkdir(exist_ok=True)
            if owner:
                os.chown(made, *owner)

    def read_bytes(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    async def read_chunks(self, key: str) -> AsyncIterator[bytes]:
        async with await anyio.open_file(self.path(key), "rb") as source:
            while chunk := await source.read(CHUNK):
                yield chunk

    def delete_tree(self, prefix: str) -> None:
        shutil.rmtree(self.path(prefix), ignore_errors=True)

    def sweep_days(self, prefix: str, older_than: timedelta, now: datetime) -> list[str]:
        """Remove `prefix/YYYY-MM-DD` folders older than `older_than`; returns the days removed."""
        folder = self.path(prefix)
        if not folder.is_dir():
            return []
        cutoff = (now - older_than).date().isoformat()
        removed = [day.name for day in folder.iterdir() if day.is_dir() and day.name < cutoff]
        for day in removed:
            shutil.rmtree(folder / day, ignore_errors=True)
        return removed
