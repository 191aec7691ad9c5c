"""Service hierarchical state machines: versions are checked as graphs before anything is written."""

from typing import Any

import httpx
import pytest

from tests.builders import action_state, created_id, new_state_machine, state_machine_body, tool_spec
from tests.conftest import Caller


def _base(caller: Caller) -> str:
    return f"/v1/{caller.org_id}/organization/service_hierarchical_state_machine"


def _decision(name: str, *targets: Any) -> dict[str, Any]:
    return {"type": "decision", "name": name, "objective": "Pick a path.", "decision_guidelines": [],
            "exit_conditions": [{"description": "d", "next_state": t} for t in targets], "tool_call_specs": [],
            "audio_fillers": [], "audio_filler_triggered_after": 2}


def _passthrough(kind: str, name: str, next_state: Any, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "name": name, "next_state": next_state, **fields}


async def test_state_machines_are_created_listed_and_deprecated(client: httpx.AsyncClient, admin: Caller) -> None:
    base = _base(admin)
    machine_id = await created_id(await client.post(base, headers=admin.headers, json={"state_machine_name": "m"}))
    assert (await client.post(base, headers=admin.headers, json={"state_machine_name": "m"})).status_code == 409
    listed = (await client.get(base, headers=admin.headers)).json()
    assert listed["service_hierarchical_state_machines"] == [
        {"id": machine_id, "name": "m", "deprecated": False, "latest_version": None}]
    assert listed["has_more"] is False and listed["continuation_token"] is None
    assert (await client.get(base, headers=admin.headers, params={"limit": 51})).status_code == 422
    assert (await client.delete(f"{base}/{machine_id}/", headers=admin.headers)).status_code == 200
    assert (await client.delete(f"{base}/{machine_id}/", headers=admin.headers)).status_code == 409


async def test_a_valid_graph_is_stored_and_dry_run_writes_nothing(client: httpx.AsyncClient, admin: Caller) -> None:
    base = _base(admin)
    machine_id = await created_id(await client.post(base, headers=admin.headers, json={"state_machine_name": "flow"}))
    states = [
        action_state("start", "choose", tools=[tool_spec("~=1.4")]),
        _decision("choose", "recall", "end"),
        _passthrough("recall", "recall", "note", queries=["goals"], requested_information=None),
        _passthrough("annotation", "note", "reflect", inner_thought="Think."),
        _passthrough("reflection", "reflect", "call", problem="What next?", word_limit=50, tool_call_specs=[],
                     audio_fillers=["hmm"], audio_filler_triggered_after=3),
        _passthrough("tool-call", "call", "end", designated_tool=tool_spec("==2.*"),
                     designated_tool_call_params_generation_audio_fillers=[],
                     designated_tool_call_params_generation_audio_filler_triggered_after=1,
                     designated_tool_call_objective="o", designated_tool_call_context="c",
                     designated_tool_call_guidances=[], designated_tool_call_validations=[], tool_call_specs=[]),
        action_state("end"),
    ]
    body = state_machine_body(states)
    dry = await client.post(f"{base}/{machine_id}/", headers=admin.headers, params={"dry_run": True}, json=body)
    assert dry.status_code == 201 and dry.json() is None
    versions_url = f"{base}/{machine_id}/version"
    assert (await client.get(versions_url, headers=admin.headers)).json()["state_machine_versions"] == []
    created = await client.post(f"{base}/{machine_id}/", headers=admin.headers, params={"version": 1}, json=body)
    assert created.status_code == 201 and created.json()["version"] == 1
    stored = (await client.get(versions_url, headers=admin.headers)).json()["state_machine_versions"][0]
    assert stored["states"] == body["states"] and stored["service_hierarchical_state_machine_id"] == machine_id
    assert stored["terminal_state"] == "end" and stored["version"] == 1
    stale = await client.post(f"{base}/{machine_id}/", headers=admin.headers, params={"version": 1}, json=body)
    assert stale.status_code == 409


INVALID_GRAPHS: list[tuple[str, dict[str, Any], str]] = [
    ("unknown initial state", state_machine_body(new_user_initial_state="nowhere"), "'nowhere'"),
    ("initial state not an action", state_machine_body(
        [_decision("start", "end"), action_state("end")]), "'start'"),
    ("transition to a missing state", state_machine_body(
        [action_state("start", "middle"), action_state("end")]), "'middle'"),
    ("transition to itself", state_machine_body(
        [action_state("start", "start", "end"), action_state("end")]), "'start'"),
    ("terminal state with exits", state_machine_body(
        [action_state("start", "end"), action_state("end", "start")]), "'end'"),
    ("terminal state with two actions", state_machine_body(
        [action_state("start", "end"), action_state("end", actions=("a", "b"))]), "'end'"),
    ("duplicate state", state_machine_body(
        [action_state("start", "end"), action_state("end"), action_state("end")]), "'end'"),
    ("bad PEP 440 constraint", state_machine_body(
        [action_state("start", "end", tools=[tool_spec("=>1.0")]), action_state("end")]), "'start'"),
    ("recall with both queries and information", state_machine_body(
        [action_state("start", "ask"), _passthrough("recall", "ask", "end", queries=["q"], requested_information="i"),
         action_state("end")]), "'ask'"),
    ("external transition without reference", state_machine_body(
        [action_state("start", ["other.intro", "end"]), action_state("end")]), "'other'"),
]


@pytest.mark.parametrize(("case", "body", "named"), INVALID_GRAPHS, ids=[c[0] for c in INVALID_GRAPHS])
async def test_invalid_graphs_are_refused_naming_the_state(client: httpx.AsyncClient, admin: Caller, case: str,
                                                          body: dict[str, Any], named: str) -> None:
    machine_id = await new_state_machine(client, admin, "target", versions=0)
    response = await client.post(f"{_base(admin)}/{machine_id}/", headers=admin.headers, json=body)
    assert response.status_code == 400, (case, response.text)
    assert response.json()["error_code"] == "invalid_state_machine" and named in response.json()["detail"]
    assert (await client.get(f"{_base(admin)}/{machine_id}/version", headers=admin.headers)
            ).json()["state_machine_versions"] == []


async def test_references_must_name_live_machines_and_their_states(client: httpx.AsyncClient, admin: Caller) -> None:
    base = _base(admin)
    other = await new_state_machine(client, admin, "other")
    machine_id = await new_state_machine(client, admin, "main", versions=0)

    def body(reference: list[Any], target: str = "other.start") -> dict[str, Any]:
        return state_machine_body([action_state("start", [target, "end"]), action_state("end")],
                                  references={"other": reference})

    ok = await client.post(f"{base}/{machine_id}/", headers=admin.headers, json=body([other, 1]))
    assert ok.status_code == 201, ok.text
    for reference, target in (([other, 1], "other.missing"), ([other, 7], "other.start"),
                              (["f" * 24, 1], "other.start")):
        refused = await client.post(f"{base}/{machine_id}/", headers=admin.headers, json=body(reference, target))
        assert refused.status_code == 400, refused.text
    await client.delete(f"{base}/{other}/", headers=admin.headers)
    deprecated = await client.post(f"{base}/{machine_id}/", headers=admin.headers, json=body([other, 1]))
    assert deprecated.status_code == 400 and deprecated.json()["error_code"] == "invalid_reference"
    assert (await client.post(f"{base}/{machine_id}/", headers=admin.headers, json=body(["nope", 1]))
            ).status_code == 422
