"""Peak memory the API process takes for one hostile capture request: small gzip bombs that inflate to millions of
events or values, bodies near every limit, a token that is unknown, deep nesting, and the largest honest batches.

Each request goes to a fresh `amigo-api` process on its own embedded database (after one small warm-up capture),
so nothing a previous request left in the heap hides its growth; the peak is reset with `/proc/<pid>/clear_refs`
just before the request and read from `VmHWM` after the answer. The request is sent from a thread while the
answer is read, so an answer that comes before the body is sent whole is measured too.

Runs with no arguments. Last line: RESULT capture_bomb_rss_mb=<largest growth, MiB> target=<=100."""

import contextlib
import json
import os
import socket
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from capture import generation, seed
from harness import processes, seeded_stack, serve

from amigo_api.devstack import ChildProcess

TARGET_MB = 100
MiB = 1024 * 1024


@dataclass(frozen=True)
class Bomb:
    name: str
    path: str
    body: bytes
    headers: dict[str, str]
    expected: int  # the status the request must get


def gzipped(parts: Iterable[bytes]) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    return b"".join([*(packer.compress(p) for p in parts), packer.flush()])


def repeated(unit: bytes, times: int, chunk: int = 1 << 16) -> Iterator[bytes]:
    block = unit * chunk
    for _ in range(times // chunk):
        yield block
    yield unit * (times % chunk)


def empties_batch(token: str, count: int) -> Iterator[bytes]:
    yield b'{"api_key": "' + token.encode() + b'", "batch": ['
    yield from repeated(b"{},", count - 1)
    yield b"{}]}"


def numbers_event(token: str, count: int) -> Iterator[bytes]:
    yield b'{"api_key": "' + token.encode() + b'", "batch": [{"event": "$ai_generation", "distinct_id": "d", ' \
          b'"properties": {"numbers": ['
    yield from repeated(b"0,", count - 1)
    yield b"0]}}]}"


def honest_batch(token: str, count: int) -> bytes:
    """posthog-python's order: the batch first, `api_key` last."""
    return json.dumps({"batch": [generation(i) for i in range(count)], "sent_at": "2026-12-06T00:00:00+00:00",
                       "api_key": token}).encode()


def large_ai_events(token: str, count: int, size: int) -> bytes:
    events = [{"event": "$ai_generation", "distinct_id": "d", "properties": {
        "$ai_model": "m", "$ai_input": [{"role": "user", "content": "x" * size}]}} for _ in range(count)]
    return json.dumps({"api_key": token, "batch": events}).encode()


def bombs(token: str) -> list[Bomb]:
    gzip = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    plain = {"Content-Type": "application/json"}
    v1 = {**plain, "Authorization": f"Bearer {token}"}
    oversized_v1 = json.dumps({"created_at": "2026-12-06T00:00:00Z", "batch": [
        {"event": "big", "distinct_id": "d", "uuid": "00000000-0000-4000-8000-000000000001",
         "properties": {"s": "x" * (2 * MiB)}},
        *({"event": "small", "distinct_id": "d", "properties": {}} for _ in range(100))]}).encode()
    return [
        Bomb("60 million empty events (gzip)", "/batch/", gzipped(empties_batch(token, 60_000_000)), gzip, 413),
        Bomb("20 million events, unknown token", "/batch/", gzipped(empties_batch("phc_unknown", 20_000_000)),
             gzip, 401),
        Bomb("one event of 95 million numbers", "/batch/", gzipped(numbers_event(token, 95_000_000)), gzip, 413),
        Bomb("18.9 MB of plain empty events", "/batch/", b"".join(empties_batch(token, 6_300_000)), plain, 413),
        Bomb("a 17 MB event", "/i/v0/e/", large_ai_events(token, 1, 17 * MiB), plain, 413),
        Bomb("an event 10 million levels deep (gzip)", "/batch/",
             gzipped([b'[{"event": "e", "properties": ', *repeated(b"[", 10_000_000)]), gzip, 400),
        Bomb("AI lane: 60 million empty events", "/i/v0/ai/batch/", gzipped(empties_batch(token, 60_000_000)),
             gzip, 413),
        Bomb("v1: one 2 MiB event among 100", "/i/v1/analytics/events", oversized_v1, v1, 200),
        Bomb("honest: 9,000 events, api_key last (gzip)", "/batch/", gzipped([honest_batch(token, 9_000)]),
             gzip, 200),
        Bomb("honest: AI lane, 6 events of 3.9 MiB", "/i/v0/ai/batch/", large_ai_events(token, 6, 3_900_000),
             plain, 200),
    ]


def post_raw(url: str, bomb: Bomb) -> tuple[int, float]:
    """POST over a plain socket: the body goes from a thread, the answer is read as soon as it comes."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=300)
    head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": "localhost", "Content-Length": str(len(bomb.body)),
                                                 **bomb.headers}.items())

    def send() -> None:
        with contextlib.suppress(OSError):  # the server answered and closed before the whole body was sent
            sock.sendall(f"POST {bomb.path} HTTP/1.1\r\n{head}\r\n".encode() + bomb.body)

    started = time.monotonic()
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    answer = b""
    while b"\r\n" not in answer:
        chunk = sock.recv(65536)
        if not chunk:
            break
        answer += chunk
    elapsed = time.monotonic() - started
    sock.close()
    return int(answer.split(b" ", 2)[1]), elapsed


def rss_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for {pid}")


def measure(bomb: Bomb, env: dict[str, str], work: Path, token: str) -> tuple[float, int, float]:
    with processes() as children:
        api, url = serve("amigo-api", ["--factory", "amigo_api.app:create_app"], env, work, "/healthz")
        children.append(api)
        warm = Bomb("warm-up", "/batch/", honest_batch(token, 10), {"Content-Type": "application/json"}, 200)
        assert post_raw(url, warm)[0] == 200
        pid = _pid(api)
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        before = rss_mb(pid, "VmRSS")
        status, seconds = post_raw(url, bomb)
        return rss_mb(pid, "VmHWM") - before, status, seconds


def _pid(child: ChildProcess) -> int:
    assert child.process is not None
    return child.process.pid


def main() -> None:
    with seeded_stack("amigo-bench-capture-memory-", seed) as stack:
        worst = 0.0
        for bomb in bombs(stack.seeded):
            growth, status, seconds = measure(bomb, {**stack.env, "AMIGO_ACCESS_LOG_SAMPLE_RATE": "0"}, stack.work,
                                              stack.seeded)
            worst = max(worst, growth)
            verdict = "" if status == bomb.expected else f"  (expected {bomb.expected})"
            print(f"{bomb.name:<44} {len(bomb.body) / 1024:>9.0f} KB sent  status {status}  "
                  f"{seconds:6.2f} s  peak RSS +{growth:7.1f} MiB{verdict}", flush=True)
        print(f"RESULT capture_bomb_rss_mb={worst:.1f} target=<={TARGET_MB}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
