"""The API as a real uvicorn process on loopback, for tests that need HTTP across processes."""

import contextlib
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from amigo_api.devstack import ChildProcess, free_port, wait_until
from amigo_api.settings import Settings


def api_up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def start_api(settings: Settings, log_dir: Path, name: str, workers: int = 1, **env: str
              ) -> tuple[ChildProcess, str]:
    """`amigo-api serve` on a free port, sharing the suite's database and secret; returns once it is healthy."""
    port = free_port()
    child = ChildProcess(name, [sys.executable, "-m", "amigo_api", "serve", "--port", str(port),
                                "--workers", str(workers)],
                         log_dir / f"{name}.log", {"AMIGO_MONGO_URI": settings.mongo_uri,
                                                   "AMIGO_SECRET_KEY": settings.secret_key,
                                                   "AMIGO_GIT_ROOT": settings.git_root,
                                                   "AMIGO_BLOB_ROOT": settings.blob_root, **env})
    child.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: api_up(url), 60, name, child.process, child.log_file)
    except BaseException:
        child.stop()
        raise
    return child, url


@contextmanager
def live_api(settings: Settings, log_dir: Path, name: str, **env: str) -> Iterator[str]:
    child, url = start_api(settings, log_dir, name, **env)
    try:
        yield url
    finally:
        child.stop()


def _open(url: str) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    return sock


def status_after_partial_body(url: str, path: str, headers: dict[str, str], first_bytes: bytes) -> int:
    """Send the head and the first bytes of the body, then read the answer without sending the rest."""
    with _open(url) as sock:
        head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": "localhost", "Content-Type": "application/json",
                                                     **headers}.items())
        sock.sendall(f"POST {path} HTTP/1.1\r\n{head}\r\n".encode() + first_bytes)
        answer = sock.recv(65536)  # times out (the test fails) if the server waits for the rest of the body
    return int(answer.split(b" ", 2)[1])


def post_while_reading(url: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    """POST from a thread while the answer is read: a server may answer (and close) before the body is sent whole.
    Without `Content-Length` in `headers`, the body goes as one chunk of chunked transfer encoding."""
    framed = body if "Content-Length" in headers else b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": "localhost", "Content-Type": "application/json",
                                                 **({} if "Content-Length" in headers else
                                                    {"Transfer-Encoding": "chunked"}), **headers}.items())
    with _open(url) as sock:
        def send() -> None:
            with contextlib.suppress(OSError):  # answered and closed before the whole body was sent
                sock.sendall(f"POST {path} HTTP/1.1\r\n{head}\r\n".encode() + framed)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        answer = b""
        while b"\r\n\r\n" not in answer or not _complete(answer):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    head_part, _, payload = answer.partition(b"\r\n\r\n")
    return int(head_part.split(b" ", 2)[1]), payload


def _complete(answer: bytes) -> bool:
    head, _, payload = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(payload) >= int(line.split(b":")[1])
    return True
