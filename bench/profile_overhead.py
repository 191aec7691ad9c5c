"""Where the time of a get-models request goes: the stack of bench/overhead.py under wrk while py-spy samples
the amigo-api process, each sample charged to the innermost part of the request it is in. Prints the CPU
microseconds per request of each part (`pip install py-spy` first; docs/performance.md has the figures).

Runs with no arguments. Last line: RESULT cpu_us_per_request=<x> target=<=500."""

import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from harness import WRK_CONNECTIONS, wrk
from overhead import PATH, get_models_stack

SECONDS = 10
# (part, pattern over "function (file)" frames, whether only a sample's innermost frame counts), tried from the
# innermost frame outwards. Frames that wrap the whole request (middleware, dispatch) count only their own time.
PARTS = [
    ("rate limiter", r"ratelimit\.py|gcra\.py|limits/", False),
    ("token check", r"security\.py|jwt/|parse_authorization|request_credentials", False),
    ("principal (cache, loading)", r"resolve_principal|_principal_for|PrincipalCache|PrincipalLoader|authenticate ",
     False),
    ("permission check", r"Permission\.__call__|permissions\.py|\.require ", False),
    ("organization lookup", r"get_org_db|Clusters\.org_db", False),
    ("access log", r"AccessLog|structlog/", False),
    ("metrics", r"prometheus_client/", False),
    ("request guard", r"RequestGuardMiddleware\._", False),
    ("request guard", r"RequestGuardMiddleware\.__call__", True),
    ("maintenance switch", r"MaintenanceMiddleware\.__call__", True),
    ("request context (id, headers)", r"RequestContextMiddleware\.__call__ |send_with_headers|_header ", False),
    ("endpoint, response validation and serialisation", r"get_models|serialize_response|pydantic|responses\.py",
     False),
    ("dependency resolution (FastAPI)", r"fastapi/dependencies/", False),
    ("routing", r"\.matches |get_route_path", False),
    ("routing", r"SectionDispatch\.__call__|APIRouter\.app|_IncludedRouter", True),
    ("FastAPI's OpenTelemetry hooks", r"fastapi/telemetry/|opentelemetry/", False),
    ("worker-thread hops", r"to_thread|run_sync_in_worker_thread|threading\.py|anyio/_backends", False),
    ("HTTP server (uvicorn, httptools)", r"uvicorn/|httptools", False),
]
IDLE = re.compile(r"Runner\.run \(|Condition\.wait|select |_run_once")


def part_of(frames: list[str]) -> str:
    for depth, frame in enumerate(reversed(frames)):
        for part, pattern, leaf_only in PARTS:
            if (depth == 0 or not leaf_only) and re.search(pattern, frame):
                return part
    return "ASGI and middleware plumbing (Starlette, FastAPI)"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    if shutil.which("py-spy") is None and not (Path(sys.executable).parent / "py-spy").exists():
        raise SystemExit("This needs py-spy: pip install py-spy")
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    with get_models_stack() as stack:
        url = f"{stack.target.url}{PATH}"
        wrk(url, stack.target.headers, seconds=3)  # warm-up
        raw = stack.work / "profile.txt"
        load = subprocess.Popen(["wrk", "-t1", f"-c{WRK_CONNECTIONS}", f"-d{SECONDS + 3}s", url,
                                 *sum((["-H", f"{k}: {v}"] for k, v in stack.target.headers.items()), [])],
                                stdout=subprocess.PIPE, text=True)
        pid = stack.ours.process.pid
        cpu_before = cpu_seconds(pid)
        time.sleep(1)
        subprocess.run([spy, "record", "-p", str(pid), "-d", str(SECONDS), "-r", "250", "-f", "raw", "-o", str(raw),
                        "--nonblocking"], check=True, capture_output=True)
        output, _ = load.communicate()
        cpu_used = cpu_seconds(pid) - cpu_before
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    parts: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack_text, _, count = line.rpartition(" ")
        frames = stack_text.split(";")
        if IDLE.search(frames[-1]):
            continue
        parts[part_of(frames)] += int(count)
    busy = sum(parts.values())
    cpu_us = 1e6 * cpu_used / requests  # the API process's own CPU time (sampling slows it; this does not count)
    print(f"{rate:.0f} req/s while sampled; {busy} busy samples; {cpu_us:.0f} us of CPU per request")
    for part, samples in parts.most_common():
        print(f"  {part:52s} {100 * samples / busy:5.1f}%  {cpu_us * samples / busy:6.0f} us")
    print(f"RESULT cpu_us_per_request={cpu_us:.0f} target=<=500")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
