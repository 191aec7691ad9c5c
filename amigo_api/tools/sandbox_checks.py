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


def _no_answer(what: str, outcome: RunOutcome) -> InvalidRequest:
    tail = "\n".join(outcome.log_tail.strip().splitlines()[-20:])
    return InvalidRequest(f"{what}: {outcome.failure_type}: {outcome.failure_message}\n{tail}".rstrip(),
                          error_code="tool_checks_failed")


def _check_tests(outcome: RunOutcome) -> None:
    if outcome.answer is None:
        raise _no_answer("The tool's tests did not finish", outcome)
    if "error" in outcome.answer:
        raise InvalidRequest(outcome.answer["error"], error_code="tool_checks_failed")
    failed: list[str] = outcome.answer.get("failed", [])
    if failed or outcome.answer.get("exit_code") not in (0, 5):  # 5: no tests collected
        named = ", ".join(failed[:MAX_NAMED_FAILURES]) + (" and more" if len(failed) > MAX_NAMED_FAILURES else "")
        raise InvalidRequest(f"The tool's tests (CI checks) failed: {named or outcome.log_tail[-2000:]}",
                             error_code="tool_checks_failed")


async def check_in_sandbox(build: Build, entrypoint: str, env: dict[str, str], settings: Settings
                           ) -> dict[str, Any]:
    """Run the project's tests, then read its input schema; 400 naming what failed."""
    mounts = mounts_for(build, settings)
    tests = await run_harness("test", {}, mounts, env, runner_config(settings, settings.tool_test_timeout_seconds))
    _check_tests(tests)
    schema = await run_harness("schema", {"entrypoint": entrypoint}, mounts, env, runner_config(settings))
    if schema.answer is None:
        raise _no_answer("The entrypoint could not be loaded", schema)
    if "error" in schema.answer:
        raise InvalidRequest(schema.answer["error"], error_code="invalid_entrypoint")
    input_schema: dict[str, Any] = schema.answer["input_schema"]
    check_schema(input_schema)
    return input_schema
