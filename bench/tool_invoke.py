"""A warm invoke of a tool that echoes its input, through the API (HTTP, auth, Temporal, a worker, bubblewrap,
the harness, the invocation record), against running the same function in the same built environment with a
plain `python` subprocess: no API, no Temporal, no sandbox. Both start a fresh interpreter per call, as the
runner does; the ratio is what everything around the tool's own process costs.

Runs with no arguments on its own embedded stack (tool_stack.py). Last line:
RESULT invoke_ratio=<p50 through the API / p50 of the plain subprocess>."""

import statistics
import subprocess
import time
from pathlib import Path

from tool_stack import ORG, tool_stack

CALLS = 40
WARM_UP = 3
TARGET_RATIO = 1.5
TOOL = '''from pydantic import BaseModel


class Input(BaseModel):
    text: str


def run(tool_input: Input, context: dict) -> str:
    return tool_input.text
'''
PYPROJECT = '''[project]
name = "echo"
version = "0"
requires-python = ">=3.11"
dependencies = ["pydantic>=2"]

[tool.amigo]
entrypoint = "tool:run"
'''
BODY = {"inputs": [{"input_parameters": {"text": "hello"}, "invocation_mode": "regular",
                    "nonsensitive_user_variables": {}, "sensitive_user_variables": {}}]}
PLAIN = "import sys; sys.path.insert(0, '.'); from tool import Input, run; print(run(Input(text='hello'), {}))"


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]


def plain_call(build: Path) -> float:
    started = time.perf_counter()
    output = subprocess.run([str(build / "env" / "bin" / "python"), "-I", "-B", "-c", PLAIN], cwd=build / "project",
                            check=True, capture_output=True, text=True).stdout
    elapsed = time.perf_counter() - started
    assert output.strip() == "hello", output
    return elapsed


def main() -> None:
    with tool_stack("amigo-bench-invoke-") as stack:
        tool_id = stack.create_tool("echo")
        (stack.clone / "echo").mkdir()
        (stack.clone / "echo" / "tool.py").write_text(TOOL)
        (stack.clone / "echo" / "pyproject.toml").write_text(PYPROJECT)
        stack.push("An echo tool")
        stack.timed_publish(tool_id, "echo", "major")
        [build] = [p for p in (stack.work / "builds").iterdir() if not p.name.startswith(".")]

        def api_call() -> float:
            started = time.perf_counter()
            response = stack.http.post(f"/v1/{ORG}/tool/{tool_id}/version/1.0.0/invoke", json=BODY)
            elapsed = time.perf_counter() - started
            result = response.json()["invocation_results"][0]
            assert response.status_code == 200 and result["output"] == "hello", response.text
            return elapsed

        for _ in range(WARM_UP):
            api_call()
            plain_call(build)
        api, plain = [], []
        for _ in range(CALLS):  # interleaved, so both see the same machine
            api.append(api_call())
            plain.append(plain_call(build))
        api_p50, api_p95 = percentiles(api)
        plain_p50, plain_p95 = percentiles(plain)
        print(f"through the API: p50 {api_p50 * 1000:.0f} ms, p95 {api_p95 * 1000:.0f} ms ({CALLS} calls)")
        print(f"plain python subprocess: p50 {plain_p50 * 1000:.0f} ms, p95 {plain_p95 * 1000:.0f} ms")
        print(f"p95 ratio: {api_p95 / plain_p95:.2f}")
        print(f"RESULT invoke_ratio={api_p50 / plain_p50:.2f} target=<={TARGET_RATIO}")


if __name__ == "__main__":
    main()
