"""`POST evaluation_runs/` requests (reference §5.1, §5.2) on the in-process app, which has no Temporal: every
refusal before a run would start, and PostHog's 500 when the workflow cannot be started."""

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.conftest import Caller
from tests.llm import environment_with_key


async def test_evaluation_run_requests(client: httpx.AsyncClient, admin: Caller, make_caller,  # type: ignore[no-untyped-def]
                                       new_org_id: str) -> None:
    base, key = await environment_with_key(client, admin, "evaluation:write")
    url = f"{base}/evaluation_runs/"
    evaluation = (await client.post(f"{base}/evaluations/", headers=key, json={
        "name": "e", "evaluation_type": "hog", "output_type": "boolean", "evaluation_config": {"source": "return true"},
        "output_config": {}})).json()
    token = (await client.get(f"{base}/", headers=key)).json()["api_token"]
    event_uuid, now = str(uuid.uuid4()), datetime.now(UTC)
    captured = await client.post("/batch/", json={"api_key": token, "batch": [{
        "event": "$ai_generation", "distinct_id": "d1", "uuid": event_uuid, "timestamp": now.isoformat(),
        "properties": {}}]})
    assert captured.status_code == 200
    good = {"evaluation_id": evaluation["id"], "target_event_id": event_uuid, "timestamp": now.isoformat()}

    async def answer(body: Any, headers: dict[str, str] = key) -> tuple[int, Any]:
        response = await client.post(url, headers=headers, json=body)
        return response.status_code, response.json() if response.content else None

    assert await answer({}) == (400, {"error": {"evaluation_id": ["This field is required."],
                                                "target_event_id": ["This field is required."],
                                                "timestamp": ["This field is required."]}})
    assert await answer({**good, "evaluation_id": "nope", "target_event_id": {"$ne": None}}) == (400, {"error": {
        "evaluation_id": ["Must be a valid UUID."], "target_event_id": ["Must be a valid UUID."]}})
    assert (await answer({**good, "timestamp": "yesterday"}))[1]["error"]["timestamp"][0].startswith(
        "Datetime has wrong format.")
    assert await answer({**good, "event": "x" * 401}) == (400, {"error": {
        "event": ["Ensure this field has no more than 400 characters."]}})
    assert await answer([good]) == (400, {"error": {"non_field_errors": [
        "Invalid data. Expected a dictionary, but got list."]}})
    missing = str(uuid.uuid4())
    assert await answer({**good, "evaluation_id": missing}) == (404, {"error": f"Evaluation {missing} not found"})
    assert await answer({**good, "target_event_id": missing}) == (404, {"error": f"Event {missing} not found"})
    assert (await answer({**good, "timestamp": "2020-01-01T00:00:00Z"}))[0] == 404  # another day
    assert (await answer({**good, "event": "$ai_span"}))[0] == 404
    assert (await answer({**good, "distinct_id": "someone else"}))[0] == 404
    # Found, with or without dashes; this app has no Temporal, so the workflow cannot start.
    assert await answer({**good, "target_event_id": event_uuid.replace("-", ""), "distinct_id": "d1"}) == (
        500, {"error": "Failed to start evaluation"})

    assert (await client.get(url, headers=key)).status_code == 405
    reader = await client.post(f"/v1/{admin.org_id}/llm_analytics/api_keys/", headers=admin.headers,
                               json={"label": "r", "scopes": ["evaluation:read"]})
    read_only = {"Authorization": f"Bearer {reader.json()['value']}"}
    assert (await answer(good, read_only))[0] == 403
    assert (await client.post(url, json=good)).status_code == 401
    other_base, other_key = await environment_with_key(client, admin, "evaluation:write", "other")
    assert (await client.post(f"{other_base}/evaluation_runs/", headers=other_key, json=good)).json() == {
        "error": f"Evaluation {evaluation['id']} not found"}
    stranger: Caller = await make_caller(f"{new_org_id}r")
    assert (await answer(good, stranger.headers))[0] == 403

    runs = await client.get(f"{base}/evaluations/{evaluation['id']}/runs/", headers=read_only)
    assert runs.status_code == 200 and runs.json() == {"count": 0, "next": None, "previous": None, "results": []}
    assert (await client.get(f"{other_base}/evaluations/{evaluation['id']}/runs/", headers=other_key)).status_code \
        == 404
