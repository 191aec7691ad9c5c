"""`POST evaluations/test_hog/` (reference §6): Hog source dry-run against the environment's recent
generations, nothing saved. Requests are checked as DRF checks them (`{"error": {field: [messages]}}`); the
programs run on a worker thread, a few at a time, so the server keeps answering while one runs."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import anyio

from amigo_api.core.clock import utcnow
from amigo_api.hog.compiler import CompiledProgram, compile_program
from amigo_api.hog.evaluation import event_io, run_hog_eval
from amigo_api.hog.filters import FilterError, compile_filters, matcher
from amigo_api.hog.lexer import HogSyntaxError
from amigo_api.hog.runtime import Limits
from amigo_api.llm_analytics.auth import EnvironmentCaller
from amigo_api.llm_analytics.evaluation_rules import MAX_HOG_SOURCE
from amigo_api.llm_analytics.text import flatten
from amigo_api.settings import Settings

RECENT = timedelta(days=7)
SCANNED = 2_000  # the most recent generations looked at for the conditions
MAX_CONDITIONS = 100
PREVIEW = 200
HOG_THREADS = anyio.CapacityLimiter(4)  # programs running at once in this process
TRUE_WORDS, FALSE_WORDS = {"true", "1", "yes", "on", "t", "y"}, {"false", "0", "no", "off", "f", "n"}
NO_EVENTS = "No recent AI events found in the last 7 days"

Errors = dict[str, Any]
Matcher = Callable[[dict[str, Any]], bool]


class HogTestRefusal(Exception):
    """A 400 with `{"error": ...}`."""

    def __init__(self, error: Any) -> None:
        self.error = error


def _type(value: Any) -> str:
    return type(value).__name__


def _source(body: dict[str, Any], errors: Errors) -> str:
    source = body.get("source")
    if "source" not in body:
        errors["source"] = ["This field is required."]
    elif source is None:
        errors["source"] = ["This field may not be null."]
    elif not isinstance(source, str):
        errors["source"] = ["Not a valid string."]
    elif not source.strip():
        errors["source"] = ["This field may not be blank."]
    elif len(source) > MAX_HOG_SOURCE:
        errors["source"] = [f"Ensure this field has no more than {MAX_HOG_SOURCE} characters."]
    else:
        return source
    return ""


def _sample_count(body: dict[str, Any], errors: Errors) -> int:
    raw = body.get("sample_count", 5)
    number = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
    if isinstance(raw, str) and raw.strip().isdigit() and len(raw) < 10:
        number = int(raw)
    if number is None:
        errors["sample_count"] = ["A valid integer is required."]
    elif number < 1:
        errors["sample_count"] = ["Ensure this value is greater than or equal to 1."]
    elif number > 10:
        errors["sample_count"] = ["Ensure this value is less than or equal to 10."]
    return number or 0


def _allows_na(body: dict[str, Any], errors: Errors) -> bool:
    raw = body.get("allows_na", False)
    if isinstance(raw, bool):
        return raw
    word = str(raw).lower() if isinstance(raw, str | int) else None
    if word in TRUE_WORDS or word in FALSE_WORDS:
        return word in TRUE_WORDS
    errors["allows_na"] = ["Must be a valid boolean."]
    return False


def _conditions(body: dict[str, Any], errors: Errors) -> list[dict[str, Any]]:
    raw = body.get("conditions", [])
    if not isinstance(raw, list):
        errors["conditions"] = [f'Expected a list of items but got type "{_type(raw)}".']
        return []
    if len(raw) > MAX_CONDITIONS:
        errors["conditions"] = [f"Ensure this field has no more than {MAX_CONDITIONS} elements."]
        return []
    wrong = {str(i): [f'Expected a dictionary of items but got type "{_type(c)}".']
             for i, c in enumerate(raw) if not isinstance(c, dict)}
    if wrong:
        errors["conditions"] = wrong
    return [c for c in raw if isinstance(c, dict)]


def parse_request(body: Any) -> tuple[str, int, bool, list[dict[str, Any]]]:
    if not isinstance(body, dict):
        raise HogTestRefusal({"non_field_errors": [f"Invalid data. Expected a dictionary, but got {_type(body)}."]})
    errors: Errors = {}
    request = _source(body, errors), _sample_count(body, errors), _allows_na(body, errors), _conditions(body, errors)
    if errors:
        raise HogTestRefusal(errors)
    return request


def _compiled(source: str) -> CompiledProgram:
    try:
        return compile_program(source)
    except HogSyntaxError as error:
        raise HogTestRefusal(f"Compilation error: {error}") from error
    except RecursionError as error:
        raise HogTestRefusal("Compilation failed due to an unexpected error") from error


def _matchers(conditions: list[dict[str, Any]]) -> list[Matcher]:
    """One per condition with filters (the filters AND-ed); conditions without filters are skipped, and
    `rollout_percentage` plays no part here."""
    found = []
    for condition in conditions:
        properties = condition.get("properties")
        if not properties:
            continue
        try:
            if not isinstance(properties, list):
                raise FilterError("`properties` must be a list of property filters")
            found.append(matcher(compile_filters(properties)))
        except FilterError as error:
            raise HogTestRefusal(f"Invalid conditions: {error}") from error
    return found


def _result(program: CompiledProgram, event: dict[str, Any], allows_na: bool, limits: Limits) -> dict[str, Any]:
    properties = event.get("properties") or {}
    verdict = run_hog_eval(program, event, allows_na, limits)
    given_input, given_output = event_io(event.get("event", ""), properties)
    return {"event_uuid": event["uuid"], "trace_id": properties.get("$ai_trace_id"),
            "input_preview": flatten(given_input)[:PREVIEW], "output_preview": flatten(given_output)[:PREVIEW],
            "result": verdict.verdict, "reasoning": verdict.reasoning, "error": verdict.error}


def _evaluate(program: CompiledProgram, events: list[dict[str, Any]], matchers: list[Matcher], sample_count: int,
              allows_na: bool, limits: Limits) -> list[dict[str, Any]]:
    """On a worker thread: the newest events passing any condition, each run through the program."""
    chosen = [e for e in events if not matchers or any(m(e.get("properties") or {}) for m in matchers)]
    return [_result(program, event, allows_na, limits) for event in chosen[:sample_count]]


async def dry_run(caller: EnvironmentCaller, body: Any, limits: Limits) -> dict[str, Any]:
    source, sample_count, allows_na, conditions = parse_request(body)
    # Compiling is work on client-sized input too: off the event loop, like the runs.
    program = await anyio.to_thread.run_sync(_compiled, source, limiter=HOG_THREADS)
    matchers = _matchers(conditions)
    query = {"org_id": caller.org.org_id, "environment_id": caller.environment["_id"], "event": "$ai_generation",
             "timestamp": {"$gt": utcnow() - RECENT}}
    fields = {"_id": 0, "uuid": 1, "event": 1, "properties": 1, "distinct_id": 1}
    limit = SCANNED if matchers else sample_count
    events = await caller.org.db["events"].find(query, fields).sort([("timestamp", -1)]).limit(limit).to_list()
    for event in events:
        event["distinct_id"] = event.get("distinct_id") or ""
    results = await anyio.to_thread.run_sync(_evaluate, program, events, matchers, sample_count, allows_na, limits,
                                             limiter=HOG_THREADS)
    return {"results": results} if results else {"results": [], "message": NO_EVENTS}


def limits_of(settings: Settings) -> Limits:
    """One run's Hog limits (test_hog and evaluation runs)."""
    return Limits(timeout_seconds=settings.hog_timeout_seconds, memory_bytes=settings.hog_memory_mb * 1024 * 1024)

