"""git's smart HTTP protocol (v2 and v0) served by the real `git http-backend` as a CGI child, with request
and response bodies streamed through in bounded chunks both ways."""

import asyncio
import contextlib
import os
import re
import signal
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import anyio
import structlog
from fastapi import Request
from fastapi.responses import StreamingResponse
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from amigo_api.core.errors import AmigoError, NotFound
from amigo_api.tools.repo.storage import RepoStore

log = structlog.get_logger(__name__)

CHUNK = 64 * 1024
# The smart protocol's endpoints, plus what the dumb protocol asks for.
_GIT_PATH = re.compile(r"^(HEAD|info/refs|git-upload-pack|git-receive-pack|objects/info/[a-z-]+|"
                       r"objects/[0-9a-f]{2}/[0-9a-f]{38}|objects/pack/pack-[0-9a-f]{40}\.(pack|idx))$")
# CONTENT_LENGTH is deliberately not passed: without it http-backend reads the body to EOF, so a client that
# disconnects mid-body makes git fail at once; with it, git 2.39 spins on a short body instead of failing.
# The HTTP server already holds the body to its declared length.
_FORWARDED_HEADERS = {"content-type": "CONTENT_TYPE", "content-encoding": "HTTP_CONTENT_ENCODING",
                      "git-protocol": "GIT_PROTOCOL"}


@dataclass(frozen=True)
class RefUpdate:
    old_sha: str
    new_sha: str
    ref: str


class BackendFailed(AmigoError):
    status_code = 502
    error_code = "git_backend_failed"
    detail = "The git backend failed to answer; the server log has its error."


class BackendTimedOut(AmigoError):
    status_code = 504
    error_code = "git_backend_timeout"
    detail = "The git operation took longer than this server allows (AMIGO_GIT_TIMEOUT_SECONDS)."


class GitResponse(StreamingResponse):
    """Streams the backend's output without also listening for a disconnect: the request body is still being
    read (by the feeder) while the response streams, and a second reader would swallow body chunks. A client
    that leaves is noticed when a write fails."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.stream_response(send)
        except OSError as exc:
            raise ClientDisconnect() from exc


def _parse_push_log(text: str) -> list[RefUpdate]:
    updates = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3:
            updates.append(RefUpdate(*parts))
    return updates


async def _read_cgi_headers(stdout: asyncio.StreamReader) -> tuple[int, list[tuple[str, str]]]:
    status, headers = 200, list[tuple[str, str]]()
    while True:
        line = (await stdout.readline()).decode("latin-1").rstrip("\r\n")
        if not line:
            return status, headers
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.strip().split()[0])
        else:
            headers.append((name.strip(), value.strip()))


class GitBackend:
    def __init__(self, store: RepoStore, protected_branches: list[str], timeout_seconds: float) -> None:
        self.store = store
        self.protected = " ".join(protected_branches)
        self.timeout_seconds = timeout_seconds

    def _environment(self, request: Request, repo: Path, git_path: str, remote_user: str, push_log: str
                     ) -> dict[str, str]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.store.root),
               "GIT_PROJECT_ROOT": str(repo.parent), "GIT_HTTP_EXPORT_ALL": "1",
               "PATH_INFO": f"/{repo.name}/{git_path}", "REQUEST_METHOD": request.method,
               "QUERY_STRING": request.url.query, "REMOTE_USER": remote_user,
               "REMOTE_ADDR": request.client.host if request.client else "",
               "AMIGO_PROTECTED_BRANCHES": self.protected, "AMIGO_PUSH_LOG": push_log}
        for header, variable in _FORWARDED_HEADERS.items():
            if header in request.headers:
                env[variable] = request.headers[header]
        return env

    async def serve(self, request: Request, org_id: str, git_path: str, remote_user: str,
                    record: Callable[[list[RefUpdate]], Awaitable[None]]) -> GitResponse:
        if not _GIT_PATH.match(git_path):
            raise NotFound(f"There is no git endpoint {git_path!r}.", error_code="git_path_not_found")
        repo = await self.store.ensure(org_id)
        handle, push_log = tempfile.mkstemp(prefix="amigo-push-", suffix=".log")
        os.close(handle)
        process = await asyncio.create_subprocess_exec(
            "git", "http-backend", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=self._environment(request, repo, git_path, remote_user, push_log),
            start_new_session=True)
        assert process.stdin and process.stdout and process.stderr
        # A backend that outlives its time limit is killed: its client then sees the answer cut short.
        watchdog = asyncio.get_running_loop().call_later(self.timeout_seconds, _time_out, process)
        feeder = asyncio.create_task(self._feed(request, process.stdin))
        errors = asyncio.create_task(process.stderr.read())
        try:
            status, headers = await _read_cgi_headers(process.stdout)
        except (ValueError, IndexError) as exc:
            watchdog.cancel()
            await _finish(process, feeder)
            await anyio.Path(push_log).unlink(missing_ok=True)
            if process.returncode == -signal.SIGKILL:
                raise BackendTimedOut() from exc
            raise BackendFailed() from exc

        async def body() -> AsyncIterator[bytes]:
            try:
                while chunk := await process.stdout.read(CHUNK):  # type: ignore[union-attr]
                    yield chunk
            finally:
                watchdog.cancel()
                with anyio.CancelScope(shield=True):
                    await _finish(process, feeder)
                    stderr = (await errors).decode(errors="replace").strip()
                    if process.returncode:
                        log.warning("git_backend_failed", org_id=org_id, path=git_path, code=process.returncode,
                                    stderr=stderr[-2000:])
                    await self._record(push_log, record)

        return GitResponse(body(), status_code=status, headers=dict(headers))

    @staticmethod
    async def _feed(request: Request, stdin: asyncio.StreamWriter) -> None:
        """Copy the request body into the backend. If the client goes away mid-body, closing stdin makes git
        see a truncated pack and refuse it as a whole; nothing partial is kept."""
        try:
            async for chunk in request.stream():
                if stdin.is_closing():  # the backend stopped reading (it answers GETs without a body)
                    break
                if chunk:
                    stdin.write(chunk)
                    await stdin.drain()
        except (ClientDisconnect, ConnectionError):
            log.info("git_client_disconnected", path=request.url.path)
        finally:
            # uvloop raises RuntimeError, not ConnectionError, on a transport the backend already closed.
            with contextlib.suppress(ConnectionError, RuntimeError):
                stdin.close()
                await stdin.wait_closed()

    @staticmethod
    async def _record(push_log: str, record: Callable[[list[RefUpdate]], Awaitable[None]]) -> None:
        log_file = anyio.Path(push_log)
        try:
            updates = _parse_push_log(await log_file.read_text())
            if updates:
                await record(updates)
        except Exception as exc:  # the push itself succeeded; losing its attribution must not fail it
            log.error("push_record_failed", error=str(exc))
        finally:
            await log_file.unlink(missing_ok=True)


def _kill(process: asyncio.subprocess.Process) -> None:
    """The backend and the `git upload-pack` / `receive-pack` it started (its own process group), which would
    otherwise keep the output pipe open."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def _time_out(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        log.warning("git_backend_timed_out", pid=process.pid)
        _kill(process)


async def _finish(process: asyncio.subprocess.Process, feeder: asyncio.Task[None]) -> None:
    """Let the backend finish on its own once its output is read; stop it if the client left early."""
    if process.returncode is None and process.stdout is not None and not process.stdout.at_eof():
        _kill(process)
    await process.wait()
    feeder.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await feeder
