"""`run_hog_eval` (reference §6.3), shared by `test_hog` and evaluation runs: a Hog program judging one AI
event, with `input`, `output`, `properties` and `event` as its only globals, and the reference's rules for
turning what it returns (or how it fails) into a verdict."""

import json
from dataclasses import dataclass
from typing import Any

from amigo_api.hog.compiler import CompiledProgram
from amigo_api.hog.engine import run
from amigo_api.hog.runtime import Limits

INPUT_KEYS = {"$ai_generation": ("$ai_input", "$ai_input_state")}
OUTPUT_KEYS = {"$ai_generation": ("$ai_output_choices", "$ai_output", "$ai_output_state")}


@dataclass(frozen=True)
class HogVerdict:
    verdict: bool | None  # None: N/A, or an error
    applicable: bool | None  # set when N/A is allowed
    reasoning: str  # what the program printed, one line each; "" on an error
    error: str | None


def as_text(value: Any) -> Any:
    """`input`/`output` as the program sees them: containers as JSON, falsy values as ""."""
    if not value:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def event_io(event: str, properties: dict[str, Any]) -> tuple[Any, Any]:
    """The generation's input and output (the first truthy of the candidates), or the states of other events."""
    def first(keys: tuple[str, ...]) -> Any:
        return next((properties[k] for k in keys if properties.get(k)), "")
    return (first(INPUT_KEYS.get(event, ("$ai_input_state",))), first(OUTPUT_KEYS.get(event, ("$ai_output_state",))))


def run_hog_eval(program: str | CompiledProgram, event: dict[str, Any], allows_na: bool,
                 limits: Limits | None = None) -> HogVerdict:
    properties = event.get("properties") or {}
    if isinstance(properties, str):
        properties = json.loads(properties)
    given_input, given_output = event_io(event.get("event", ""), properties)
    result = run(program, {"input": as_text(given_input), "output": as_text(given_output), "properties": properties,
                          "event": {"uuid": event.get("uuid"), "event": event.get("event"),
                                    "distinct_id": event.get("distinct_id")}}, limits)
    if result.error is not None:
        return HogVerdict(None, None, "", result.error)
    reasoning, value = "\n".join(result.output), result.value
    if value is None and allows_na:
        return HogVerdict(None, False, reasoning, None)
    if not isinstance(value, bool):
        wanted = "boolean (or null if N/A is enabled)" if allows_na else "boolean"
        return HogVerdict(None, None, reasoning, f"Must return {wanted}, got {type(value).__name__}: {value}")
    return HogVerdict(value, True if allows_na else None, reasoning, None)
