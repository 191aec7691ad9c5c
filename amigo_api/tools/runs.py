"""Running a tool's inputs in the sandbox, one process each, and the contract's `InvocationResult` of each run.

User variables and the invocation mode reach the function through its context argument, never through the
environment; the environment holds the tool's variables only."""

import json
import time
from typing import Any

from pydantic import TypeAdapter, ValidationError

from amigo_api.core.crypto import SecretBox
from amigo_api.sandbox.builds import Build
from amigo_api.sandbox.runner import RunOutcome, run_harness
from amigo_api.settings import Settings
from amigo_api.tools.run_workflow import ToolInput
from amigo_api.tools.runtime import mounts_for, runner_config
from amigo_api.tools.schemas import InvocationResult

RESULT: TypeAdapter[InvocationResult] = TypeAdapter(InvocationResult)
# What one run's results (all of an invocation's inputs) may weigh as Temporal encodes them: its payloads stop at
# 2 MB, envelope included.
RESULTS_BYTES = 1_800_000


def seal(box: SecretBox, value: Any) -> str:
    """A value for a workflow's history that only holders of the service's key can read."""
    return box.encrypt(json.dumps(value))


def unseal(box: SecretBox, sealed: str) -> Any:
    return json.loads(box.decrypt(sealed))


def invocation_result(outcome: RunOutcome, elapsed_ms: int) -> dict[str, Any]:
    """The harness's answer, or a failed result naming why there is none (the contract's shape either way)."""
    if outcome.answer is not None:
        try:
            return RESULT.validate_python(outcome.answer).model_dump()
        except ValidationError:
            return _failed("ProcessExited", "The tool's answer is not an invocation result: something in the tool "
                                            "wrote to the harness's answer pipe.", elapsed_ms)
    return _failed(outcome.failure_type or "ProcessExited", outcome.failure_message, elapsed_ms)


def _failed(exception_type: str, message: str, elapsed_ms: int) -> dict[str, Any]:
    return {"succeeded": False, "exception_type": exception_type, "exception_message": message,
            "exception_stack_trace": [], "duration_ms": elapsed_ms}


async def run_inputs(build: Build, entrypoint: str, env: dict[str, str], inputs: list[ToolInput],
                     sensitive: list[dict[str, str]], settings: Settings) -> list[dict[str, Any]]:
    mounts, config = mounts_for(build, settings), runner_config(settings)
    results = []
    for tool_input, secrets in zip(inputs, sensitive, strict=True):
        context = {"invocation_mode": tool_input.invocation_mode, "sensitive_user_variables": secrets,
                   "nonsensitive_user_variables": tool_input.nonsensitive_user_variables}
        started = time.monotonic()
        outcome = await run_harness("invoke", {"entrypoint": entrypoint, "input": tool_input.input_parameters,
                                               "context": context}, mounts, env, config)
        results.append(invocation_result(outcome, round((time.monotonic() - started) * 1000)))
    return fitted(results)


def _encoded_size(result: dict[str, Any]) -> int:
    return len(json.dumps(result, separators=(",", ":")))  # as Temporal's JSON converter writes it


def fitted(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The results, each that does not fit in what is left of RESULTS_BYTES made a failed result saying so."""
    kept, used = [], 0
    for result in results:
        size = _encoded_size(result)
        if used + size > RESULTS_BYTES:
            result = _failed("ProcessExited", f"The tool's result is {size} bytes; the results of one invocation "
                                              f"hold at most {RESULTS_BYTES} bytes in all.", result["duration_ms"])
            size = _encoded_size(result)
        kept.append(result)
        used += size
    return kept
