"""`POST evaluations/test_hog/` (reference §6): Hog source dry-run against the environment's recent
generations, nothing saved. Requests are checked as DRF checks them (`{"error": {field: [messages]}}`).

Compiling, matching the conditions and running the program all happen in the Hog pool's child processes
(`hog.pool`), never in the API process: one request uses one child at a time, an organization at most
`AMIGO_HOG_PROCESSES_PER_ORGANIZATION` at once, and all of a request's programs share one time budget
(`AMIGO_HOG_TEST_BUDGET_SECONDS`). The generations go to the children as raw BSON: the API never builds their
properties, but for the previews of the few it sampled."""

import contextlib
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

import bson
from bson.raw_bson import RawBSONDocument

from amigo_api.core.clock import utcnow
from amigo_api.core.errors import RateLimited
from amigo_api.hog.evaluation import HogVerdict, event_io
from amigo_api.hog.pool import HogBusy, HogPool, HogStopped
from amigo_api.hog.runtime import Limits
from amigo_api.llm_analytics.auth import EnvironmentCaller
from amigo_api.llm_analytics.evaluation_rules import MAX_HOG_SOURCE
from amigo_api.llm_analytics.repository import EventRepository
from amigo_api.llm_analytics.text import flatten
from amigo_api.settings import Settings

RECENT = timedelta(days=7)
SCANNED = 2_000  # the most recent generations looked at for the conditions
MAX_CONDITIONS = 100
PREVIEW = 200
MATCH_BATCH, MATCH_BATCH_BYTES = 100, 4 * 1024 * 1024  # generations sent to a child at once to be matched
RETRY_SECONDS = 5
GENERATION = "$ai_generation"
BUSY = "Too many Hog programs of this organization are running; try again in a few seconds."
TRUE_WORDS, FALSE_WORDS = {"true", "1", "yes", "on", "t", "y"}, {"false", "0", "no", "off", "f", "n"}
NO_EVENTS = "No recent AI events found in the last 7 days"

Errors = dict[str, Any]


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


class Budget:
    """The time one test_hog request's programs have in all, waiting for a child included."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._deadline = time.monotonic() + seconds

    def left(self) -> float:
        return max(0.0, self._deadline - time.monotonic())


def _result(raw: RawBSONDocument, verdict: HogVerdict) -> dict[str, Any]:
    event = bson.decode(raw.raw)
    properties = event.get("properties") or {}
    given_input, given_output = event_io(event.get("event", ""), properties)
    return {"event_uuid": event["uuid"], "trace_id": properties.get("$ai_trace_id"),
            "input_preview": flatten(given_input)[:PREVIEW], "output_preview": flatten(given_output)[:PREVIEW],
            "result": verdict.verdict, "reasoning": verdict.reasoning, "error": verdict.error}


async def _checked(pool: HogPool, owner: str, source: str, filters: list[Any], budget: Budget) -> None:
    """The source and the conditions' filters compile (in a child: it is work on the client's input too)."""
    try:
        answer = await pool.call(owner, ("check", source, filters), budget.left(), wait_seconds=budget.left())
    except HogBusy as busy:
        raise RateLimited(BUSY, error_code="throttled", headers={"Retry-After": str(RETRY_SECONDS)}) from busy
    except HogStopped as stopped:
        raise HogTestRefusal("Compilation failed due to an unexpected error") from stopped
    if answer[0] == "refused":
        raise HogTestRefusal(answer[1])


async def _chosen(pool: HogPool, caller: EnvironmentCaller, filters: list[Any], sample_count: int, budget: Budget
                  ) -> list[RawBSONDocument]:
    """The newest generations passing any condition; matched in a child, a few MiB of them at a time."""
    events = EventRepository(caller.org).recent_raw(caller.environment["_id"], GENERATION, utcnow() - RECENT,
                                                    SCANNED if any(filters) else sample_count)
    if not any(filters):
        return await events.to_list()
    chosen: list[RawBSONDocument] = []
    batch: list[RawBSONDocument] = []
    size = 0
    try:
        async for event in events:
            batch.append(event)
            size += len(event.raw)
            if size >= MATCH_BATCH_BYTES or len(batch) == MATCH_BATCH:
                chosen += await _matched(pool, caller.org.org_id, filters, batch, budget)
                batch, size = [], 0
                if len(chosen) >= sample_count or not budget.left():
                    break
    finally:
        await events.close()
    if batch and len(chosen) < sample_count:
        chosen += await _matched(pool, caller.org.org_id, filters, batch, budget)
    return chosen[:sample_count]


async def _matched(pool: HogPool, owner: str, filters: list[Any], batch: list[RawBSONDocument], budget: Budget
                   ) -> list[RawBSONDocument]:
    try:
        answer = await pool.call(owner, ("match", filters, [bytes(e.raw) for e in batch]), budget.left(),
                                 wait_seconds=budget.left())
    except (HogBusy, HogStopped):
        return []  # the budget is spent: the events already chosen are run
    return [batch[i] for i in answer[1]]


async def _run(pool: HogPool, owner: str, source: str, event: RawBSONDocument, allows_na: bool, limits: Limits,
               budget: Budget) -> HogVerdict:
    left = round(budget.left(), 1)
    if left > 0:
        limits = replace(limits, timeout_seconds=min(limits.timeout_seconds, left))
        with contextlib.suppress(HogBusy):
            return await pool.evaluate(owner, ("source", source), bytes(event.raw), allows_na, limits,
                                       wait_seconds=left)
    return HogVerdict(None, None, "", f"Not run: the {budget.seconds:g}s this test may take were spent on the "
                                      "events before it")


async def dry_run(caller: EnvironmentCaller, body: Any, pool: HogPool, limits: Limits, budget_seconds: float
                  ) -> dict[str, Any]:
    """The programs run in the pool's children, one at a time for this request, within one time budget."""
    source, sample_count, allows_na, conditions = parse_request(body)
    budget, owner = Budget(budget_seconds), caller.org.org_id
    filters = [condition.get("properties") for condition in conditions]
    await _checked(pool, owner, source, filters, budget)
    results = [_result(event, await _run(pool, owner, source, event, allows_na, limits, budget))
               for event in await _chosen(pool, caller, filters, sample_count, budget)]
    return {"results": results} if results else {"results": [], "message": NO_EVENTS}


def limits_of(settings: Settings) -> Limits:
    """One run's Hog limits (test_hog and evaluation runs)."""
    return Limits(timeout_seconds=settings.hog_timeout_seconds, memory_bytes=settings.hog_memory_mb * 1024 * 1024)

