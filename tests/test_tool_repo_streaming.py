"""Bodies stream through the git endpoint: a 50 MB push barely moves the API's memory, and a client that
vanishes mid-push leaves the repository as it was."""

import asyncio
import base64
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from amigo_api.devstack import ChildProcess, wait_until
from amigo_api.settings import Settings
from tests.conftest import Caller
from tests.gitcli import commit_all, git, remote_url
from tests.live import start_api

PACK_MB = 50


@pytest.fixture(scope="module")
def live(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ChildProcess, str]]:
    child, url = start_api(settings, tmp_path_factory.mktemp("logs"), "api-stream", AMIGO_RATE_LIMIT_SCALE="10")
    yield child, url
    child.stop()


async def test_a_50_mb_push_keeps_the_api_memory_growth_small(live: tuple[ChildProcess, str], admin: Caller,
                                                              tmp_path: Path) -> None:
    child, url = live
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", remote_url(url, admin), str(work))
    (work / "small.txt").write_text("warm-up\n")
    commit_all(work, "Warm up")
    git(work, "push", "-q", "origin", "main")
    before = child.peak_rss_mb()
    (work / "big.bin").write_bytes(os.urandom(PACK_MB * 1024 * 1024))  # incompressible: the pack is ~50 MB
    commit_all(work, "A big file")
    git(work, "push", "-q", "origin", "main", timeout=300)
    growth = child.peak_rss_mb() - before
    assert growth < 30, f"peak RSS grew by {growth:.1f} MB during a {PACK_MB} MB push"
    fresh = tmp_path / "fresh"
    git(tmp_path, "clone", "-q", remote_url(url, admin), str(fresh), timeout=300)
    assert (fresh / "big.bin").stat().st_size == PACK_MB * 1024 * 1024


def _git_children(child: ChildProcess) -> list[str]:
    """Names of the server's child processes still running (git http-backend and what it runs)."""
    assert child.process is not None
    names = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == child.process.pid:
                names.append(stat.read_text().split("(", 1)[1].split(")", 1)[0])
        except (OSError, IndexError):
            continue
    return names


def _pack(work: Path, tip: str, base: str) -> bytes:
    """The pack `git push` would send for `base..tip`."""
    return subprocess.run(["git", "pack-objects", "--stdout", "--revs", "-q"], cwd=work,
                          input=f"{tip}\n^{base}\n".encode(), capture_output=True, check=True).stdout


def _pkt(line: str) -> bytes:
    data = line.encode()
    return f"{len(data) + 4:04x}".encode() + data


async def test_a_client_that_disconnects_mid_push_leaves_the_repository_valid(
        live: tuple[ChildProcess, str], admin: Caller, settings: Settings, tmp_path: Path) -> None:
    child, url = live
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", remote_url(url, admin), str(work))
    (work / "a.txt").write_text("a\n")
    base = commit_all(work, "Base")
    git(work, "push", "-q", "origin", "main")
    (work / "payload.bin").write_bytes(os.urandom(8 * 1024 * 1024))
    tip = commit_all(work, "Payload")
    pack = _pack(work, tip, base)
    body = _pkt(f"{base} {tip} refs/heads/main\0report-status side-band-64k agent=test\n") + b"0000" + pack
    host, port = url.removeprefix("http://").split(":")
    auth = base64.b64encode(f"{admin.org_id}_{admin.user_id}:{admin.token}".encode()).decode()
    request = (f"POST /v1/{admin.org_id}/tool/git/git-receive-pack HTTP/1.1\r\nHost: {host}\r\n"
               f"Authorization: Basic {auth}\r\nContent-Type: application/x-git-receive-pack-request\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode()
    with socket.create_connection((host, int(port))) as connection:
        connection.sendall(request + body[: len(body) // 2])  # half the pack, then the client is gone
    wait_until(lambda: "git_client_disconnected" in child.log_file.read_text()
               and not _git_children(child), 30, "the server to notice the disconnect")
    bare = Path(settings.git_root) / f"{admin.org_id}.git"
    git(bare, "fsck", "--strict")
    assert git(bare, "rev-parse", "refs/heads/main").stdout.strip() == base
    # The repository still takes a complete push afterwards.
    git(work, "push", "-q", "origin", "main")
    assert git(bare, "rev-parse", "refs/heads/main").stdout.strip() == tip


def test_the_body_is_not_fed_to_a_backend_that_closed_its_input() -> None:
    """git http-backend answers a GET without reading stdin and may exit first; under uvloop, writing to the
    closed pipe raised RuntimeError and broke the response."""
    import uvloop

    from amigo_api.tools.repo.git_http import GitBackend

    class Body:
        url = httpx.URL("http://testserver/v1/org/tool/git/info/refs")

        async def stream(self) -> Any:
            yield b""
            yield b"0000"

    async def feed_after_exit() -> None:
        process = await asyncio.create_subprocess_exec("true", stdin=asyncio.subprocess.PIPE)
        assert process.stdin is not None
        process.stdin.close()  # as when the backend's end is gone
        await process.wait()
        await GitBackend._feed(Body(), process.stdin)  # type: ignore[arg-type]

    uvloop.run(feed_after_exit())
