"""`POST evaluations/test_hog/` end to end (reference §6): events captured through the capture endpoint, then
Hog source tried on them through HTTP; request errors as `{"error": ...}`; the server answers other requests
while a program runs, and one organization's runaway programs leave another organization served."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from amigo_api.app import create_app
from amigo_api.settings import Settings
from tests.conftest import Caller
from tests.llm import environment_with_key

MESSAGES = [{"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "hello"}, {"type": "text", "text": "there"}]}]


def _generation(model: str, minutes_ago: int, output: Any = "fine", **extra: Any) -> dict[str, Any]:
    return {"event": "$ai_generation", "distinct_id": "user-1", "uuid": str(uuid.uuid4()),
            "timestamp": (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat(),
            "properties": {"$ai_model": model, "$ai_input": MESSAGES, "$ai_trace_id": f"trace-{model}",
                           "$ai_output_choices": output, **extra}}


async def _capture(client: httpx.AsyncClient, base: str, key: dict[str, str], events: list[dict[str, Any]]) -> None:
    token = (await client.get(f"{base}/", headers=key)).json()["api_token"]
    captured = await client.post("/batch/", json={"api_key": token, "batch": events})
    assert captured.status_code == 200, captured.text


async def test_test_hog_on_captured_generations(client: httpx.AsyncClient, admin: Caller) -> None:
    base, key = await environment_with_key(client, admin, "evaluation:read")
    url = f"{base}/evaluations/test_hog/"
    empty = await client.post(url, headers=key, json={"source": "return true"})
    assert empty.json() == {"results": [], "message": "No recent AI events found in the last 7 days"}

    newest = _generation("gpt-4o", 1, [{"role": "assistant", "content": "Sorry, I cannot."}])
    middle = _generation("claude", 2, "x" * 300)
    oldest = _generation("gpt-4o", 3)
    too_old = _generation("gpt-4o", 8 * 24 * 60)
    span = {**_generation("gpt-4o", 0), "event": "$ai_span"}
    await _capture(client, base, key, [oldest, newest, middle, too_old, span])

    source = "print(f'model {properties.$ai_model}', event.distinct_id)\nreturn not (output ilike '%sorry%')"
    answer = await client.post(url, headers=key, json={"source": source, "sample_count": 10})
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["event_uuid"] for r in results] == [newest["uuid"], middle["uuid"], oldest["uuid"]]
    first = results[0]
    assert first == {"event_uuid": newest["uuid"], "trace_id": "trace-gpt-4o",
                     "input_preview": "system: Be brief.\nuser: hello there",
                     "output_preview": "assistant: Sorry, I cannot.", "result": False,
                     "reasoning": "model gpt-4o user-1", "error": None}
    assert results[1]["output_preview"] == "x" * 200 and results[1]["result"] is True

    only_gpt = [{"properties": [{"key": "$ai_model", "value": "gpt-4o", "operator": "exact", "type": "event"}],
                 "rollout_percentage": 0}, {"properties": []}]
    filtered = (await client.post(url, headers=key, json={"source": "return true", "conditions": only_gpt})).json()
    assert [r["event_uuid"] for r in filtered["results"]] == [newest["uuid"], oldest["uuid"]]
    either = [{"properties": [{"key": "$ai_model", "value": "claude"}]},
              {"properties": [{"key": "$ai_output_choices", "operator": "icontains", "value": "SORRY"}]}]
    matched = (await client.post(url, headers=key, json={"source": "return true", "conditions": either})).json()
    assert [r["event_uuid"] for r in matched["results"]] == [newest["uuid"], middle["uuid"]]
    person = [{"properties": [{"key": "email", "value": "a", "type": "person"}]}]
    nobody = (await client.post(url, headers=key, json={"source": "return true", "conditions": person})).json()
    assert nobody["results"] == [] and "message" in nobody

    one = (await client.post(url, headers=key, json={"source": "return true", "sample_count": "1"})).json()
    assert [r["event_uuid"] for r in one["results"]] == [newest["uuid"]]
    na = (await client.post(url, headers=key, json={"source": "return null", "allows_na": True,
                                                      "sample_count": 1})).json()["results"][0]
    assert (na["result"], na["error"]) == (None, None)
    not_boolean = (await client.post(url, headers=key, json={"source": "print('x')\nreturn 42",
                                                               "sample_count": 1})).json()["results"][0]
    assert (not_boolean["result"], not_boolean["reasoning"], not_boolean["error"]) == (
        None, "x", "Must return boolean, got int: 42")
    failing = (await client.post(url, headers=key, json={"source": "print('x')\nreturn jsonParse('{')",
                                                           "sample_count": 1})).json()["results"][0]
    assert failing["reasoning"] == "" and failing["error"].startswith("Unexpected error during evaluation")


async def test_test_hog_refusals(client: httpx.AsyncClient, admin: Caller, make_caller,  # type: ignore[no-untyped-def]
                                 new_org_id: str) -> None:
    base, key = await environment_with_key(client, admin, "evaluation:read")
    url = f"{base}/evaluations/test_hog/"

    async def refused(body: Any) -> Any:
        answer = await client.post(url, headers=key, json=body)
        assert answer.status_code == 400, answer.text
        return answer.json()["error"]

    assert await refused({"source": "return |"}) == "Compilation error: Unexpected character '|' (line 1, column 8)"
    assert await refused({"source": "let a := 1\nlet a := 2"}) == (
        "Compilation error: Variable `a` already declared in this scope (line 2, column 1)")
    assert await refused({"source": "  "}) == {"source": ["This field may not be blank."]}
    assert await refused({}) == {"source": ["This field is required."]}
    assert await refused({"source": {"$ne": 1}}) == {"source": ["Not a valid string."]}
    assert await refused({"source": "x" * 100_001}) == {
        "source": ["Ensure this field has no more than 100000 characters."]}
    assert await refused({"source": "return true", "sample_count": 11}) == {
        "sample_count": ["Ensure this value is less than or equal to 10."]}
    assert await refused({"source": "return true", "sample_count": 0}) == {
        "sample_count": ["Ensure this value is greater than or equal to 1."]}
    assert await refused({"source": "return true", "sample_count": {"$gt": 1}}) == {
        "sample_count": ["A valid integer is required."]}
    assert await refused({"source": "return true", "allows_na": "maybe"}) == {
        "allows_na": ["Must be a valid boolean."]}
    assert await refused({"source": "return true", "conditions": "x"}) == {
        "conditions": ['Expected a list of items but got type "str".']}
    assert await refused({"source": "return true", "conditions": [1]}) == {
        "conditions": {"0": ['Expected a dictionary of items but got type "int".']}}
    assert (await refused({"source": "return true", "conditions": [{"properties": [{"key": "k", "operator": "$ne"}]}]}
                          )).startswith("Invalid conditions: Unsupported property filter operator")
    assert await refused([1]) == {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}
    deep = "return " + "(" * 500 + "1" + ")" * 500
    assert (await refused({"source": deep})).startswith("Compilation error: The program nests deeper than")

    writer = await client.post(f"/v1/{admin.org_id}/llm_analytics/api_keys/", headers=admin.headers,
                               json={"label": "d", "scopes": ["dataset:write"]})
    wrong_scope = {"Authorization": f"Bearer {writer.json()['value']}"}
    assert (await client.post(url, headers=wrong_scope, json={"source": "return true"})).status_code == 403
    assert (await client.post(url, json={"source": "return true"})).status_code == 401
    stranger: Caller = await make_caller(f"{new_org_id}h")
    assert (await client.post(url, headers=stranger.headers, json={"source": "return true"})).status_code == 403
    other_base, _ = await environment_with_key(client, stranger, "evaluation:read")
    assert (await client.post(f"{other_base}/evaluations/test_hog/", headers=key,
                              json={"source": "return true"})).status_code in (403, 404)


async def test_the_server_answers_while_a_program_runs(client: httpx.AsyncClient, admin: Caller) -> None:
    base, key = await environment_with_key(client, admin, "evaluation:read")
    await _capture(client, base, key, [_generation("gpt-4o", 1)])
    spinning = asyncio.create_task(client.post(f"{base}/evaluations/test_hog/", headers=key,
                                               json={"source": "while (true) { let x := 1 }", "sample_count": 1}))
    await asyncio.sleep(0.5)  # the program is running now
    other = await client.get(f"{base}/", headers=key)
    assert other.status_code == 200 and not spinning.done()  # answered while the program still ran
    result = (await spinning).json()["results"][0]
    assert (result["result"], result["error"]) == (None, "Execution timed out (5s limit exceeded)")


@pytest.fixture(scope="module")
async def short_runs(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An API whose Hog programs get 2 s each and 4 s per test_hog request (4 Hog processes, 2 per organization)."""
    app = create_app(settings.model_copy(update={"hog_timeout_seconds": 2.0, "hog_test_budget_seconds": 4.0}))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver", timeout=60) as http:
        yield http


async def test_one_organizations_runaway_programs_leave_another_organization_served(
        short_runs: httpx.AsyncClient, make_caller, new_org_id: str) -> None:  # type: ignore[no-untyped-def]
    hostile, other = await make_caller(new_org_id), await make_caller(f"{new_org_id}b")
    hostile_base, hostile_key = await environment_with_key(short_runs, hostile, "evaluation:read")
    other_base, other_key = await environment_with_key(short_runs, other, "evaluation:read")
    await _capture(short_runs, hostile_base, hostile_key, [_generation("m", minutes) for minutes in range(10)])
    await _capture(short_runs, other_base, other_key, [_generation("m", 1)])
    spin = {"source": "while (true) { let x := 1 }", "sample_count": 10}
    spinning = [asyncio.create_task(short_runs.post(f"{hostile_base}/evaluations/test_hog/", headers=hostile_key,
                                                    json=spin)) for _ in range(4)]
    await asyncio.sleep(0.5)
    trivial = await short_runs.post(f"{other_base}/evaluations/test_hog/", headers=other_key,
                                    json={"source": "return true", "sample_count": 1})
    assert trivial.status_code == 200 and trivial.json()["results"][0]["result"] is True
    assert (await short_runs.get("/healthz")).status_code == 200
    assert not any(task.done() for task in spinning)  # all of that while the other organization's programs ran

    answers = [await task for task in spinning]
    assert {a.status_code for a in answers} <= {200, 429}
    ran = next(a.json()["results"] for a in answers if a.status_code == 200)
    assert len(ran) == 10 and ran[0]["error"] == "Execution timed out (2s limit exceeded)"
    assert ran[-1]["error"] == "Not run: the 4s this test may take were spent on the events before it"
    for busy in (a for a in answers if a.status_code == 429):  # waited its whole budget for a free process
        assert busy.json()["code"] == "throttled" and busy.headers["retry-after"] == "5"
