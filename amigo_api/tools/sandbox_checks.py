"""What publishing runs in the sandbox: the project's own tests ("CI checks") and the entrypoint's input
model, whose JSON Schema becomes the version's `input_schema`."""

from typing import Any

from amigo_api.core.errors import InvalidRequest
from amigo_api.sandbox.builds import Build
from amigo_api.sandbox.runner import RunOutcome, run_harness
from amigo_api.settings import Settings
from amigo_api.tools.inputs import check_schema
from amigo_api.tools.runtime import mounts_for, runner_config

MAX_NAMED_FAILURES = 10
MAX_SUMMARY_CHARS = 600  # a test's name and its assertion (the harness cuts the assertion at 500)


def _no_answer(what: str, outcome: RunOutcome) -> InvalidRequest:
    tail = "\n".join(outcome.log_tail.strip().splitlines()[-20:])
    return InvalidRequest(f"{what}: {outcome.failure_type}: {outcome.failure_message}\n{tail}".rstrip(),
                          error_code="tool_checks_failed")


def check_tests(outcome: RunOutcome) -> None:
    if outcome.answer is None:
        raise _no_answer("The tool's tests did not finish", outcome)
    if "error" in outcome.answer:
        raise InvalidRequest(outcome.answer["error"], error_code="tool_checks_failed")
    failed: list[str] = outcome.answer.get("failed", [])
    if failed or outcome.answer.get("exit_code") not in (0, 5):  # 5: no tests collected
        why = _why(outcome.answer) or outcome.log_tail[-2000:]
        raise InvalidRequest(f"The tool's tests (CI checks) failed:\n{why}", error_code="tool_checks_failed")


def _why(answer: dict[str, Any]) -> str:
    """pytest's short summary lines (the test and its assertion), for the first few failures."""
    lines: list[str] = answer.get("summaries") or answer.get("failed", [])
    shown = "\n".join(line[:MAX_SUMMARY_CHARS] for line in lines[:MAX_NAMED_FAILURES])
    more = len(lines) - MAX_NAMED_FAILURES
    return shown + (f"\n... and {more} more" if more > 0 else "")


async def check_in_sandbox(build: Build, entrypoint: str, env: dict[str, str], settings: Settings
                           ) -> dict[str, Any]:
    """Run the project's tests, then read its input schema; 400 naming what failed."""
    mounts = mounts_for(build, settings)
    tests = await run_harness("test", {}, mounts, env, runner_config(settings, settings.tool_test_timeout_seconds))
    check_tests(tests)
    schema = await run_harness("schema", {"entrypoint": entrypoint}, mounts, env, runner_config(settings))
    if schema.answer is None:
        raise _no_answer("The entrypoint could not be loaded", schema)
    if "error" in schema.answer:
        raise InvalidRequest(schema.answer["error"], error_code="invalid_entrypoint")
    input_schema: dict[str, Any] = schema.answer["input_schema"]
    check_schema(input_schema)
    return input_schema
