"""Request bodies and small API helpers shared by the agent, state machine, service, simulation and SQL tests."""

import re
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import Caller

AGENT_VERSION: dict[str, Any] = {
    "initials": "AM",
    "identity": {"name": "Amy", "role": "Coach", "developed_by": "Example Health", "default_spoken_language": "eng",
                 "relationship_to_developer": {"ownership": "Example Health", "type": "assistant",
                                               "conversation_visibility": "visible", "thought_visibility": "hidden"}},
    "background": "A friendly coach.",
    "behaviors": ["Be kind."],
    "communication_patterns": ["Short sentences."],
}


def tool_spec(constraint: str = ">=1.0,<2") -> dict[str, Any]:
    return {"tool_id": "a" * 24, "version_constraint": constraint, "additional_instruction": "Use it well.",
            "audio_fillers": [], "audio_filler_triggered_after": 1.5, "result_persistence": "ephemeral"}


def action_state(name: str, *next_states: Any, actions: tuple[str, ...] = ("Greet the user.",),
                 tools: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"type": "action", "name": name, "objective": f"Do {name}.", "actions": list(actions),
            "intra_state_navigation_guidelines": [], "action_guidelines": [], "boundary_constraints": [],
            "exit_conditions": [{"description": f"Ready for {n}.", "next_state": n} for n in next_states],
            "action_tool_call_specs": tools or [], "exit_condition_tool_call_specs": [],
            "skip_active_memory_retrieval": False}


def state_machine_body(states: list[dict[str, Any]] | None = None, **overrides: Any) -> dict[str, Any]:
    """By default: `start` (action) -> `end` (terminal action)."""
    body = {"description": "A two-step flow.",
            "states": states if states is not None else [action_state("start", "end"), action_state("end")],
            "new_user_initial_state": "start", "returning_user_initial_state": "start", "terminal_state": "end",
            "references": {}, "global_intra_state_navigation_guidelines": [], "global_action_guidelines": [],
            "global_boundary_constraints": []}
    body.update(overrides)
    return body


async def created_id(response: httpx.Response, key: str = "id") -> str:
    assert response.status_code == 201, response.text
    return str(response.json()[key])


async def new_agent(client: httpx.AsyncClient, caller: Caller, name: str, versions: int = 1) -> str:
    base = f"/v1/{caller.org_id}/organization/agent"
    agent_id = await created_id(await client.post(base, headers=caller.headers, json={"agent_name": name}))
    for _ in range(versions):
        await created_id(await client.post(f"{base}/{agent_id}/", headers=caller.headers, json=AGENT_VERSION))
    return agent_id


async def new_state_machine(client: httpx.AsyncClient, caller: Caller, name: str, versions: int = 1) -> str:
    base = f"/v1/{caller.org_id}/organization/service_hierarchical_state_machine"
    machine_id = await created_id(await client.post(base, headers=caller.headers, json={"state_machine_name": name}))
    for _ in range(versions):
        await created_id(await client.post(f"{base}/{machine_id}/", headers=caller.headers,
                                           json=state_machine_body()))
    return machine_id


def service_body(agent_id: str, machine_id: str, name: str = "Coaching", **overrides: Any) -> dict[str, Any]:
    body = {"service_hierarchical_state_machine_id": machine_id, "agent_id": agent_id, "name": name,
            "description": "Helps people.", "is_active": True, "keyterms": ["blood sugar"], "tags": {}}
    body.update(overrides)
    return body


async def new_service(client: httpx.AsyncClient, caller: Caller, name: str = "Coaching", **overrides: Any
                      ) -> tuple[str, str, str]:
    """A service over a fresh agent and state machine (one version each): (service, agent, state machine)."""
    agent_id = await new_agent(client, caller, f"agent for {name}")
    machine_id = await new_state_machine(client, caller, f"machine for {name}")
    response = await client.post(f"/v1/{caller.org_id}/service/", headers=caller.headers,
                                 json=service_body(agent_id, machine_id, name, **overrides))
    return await created_id(response), agent_id, machine_id


ADMIN_DOCS = Path(__file__).resolve().parents[1] / "docs" / "admin.md"


def documented_query(title: str) -> str:
    """The SQL example of docs/admin.md that opens with the comment `-- {title}`."""
    for block in re.findall(r"```sql\n(.*?)```", ADMIN_DOCS.read_text(), re.DOTALL):
        if block.startswith(f"-- {title}\n"):
            return str(block)
    raise AssertionError(f"docs/admin.md has no query titled {title!r}")


async def sql_rows(client: httpx.AsyncClient, caller: Caller, query: str) -> list[dict[str, Any]]:
    response = await client.post(f"/v1/{caller.org_id}/admin/sql_query", headers=caller.headers,
                                 json={"sql_query": query, "async_query": False})
    assert response.status_code == 200, response.text
    names = [column["name"] for column in response.json()["columns"]]
    return [dict(zip(names, row, strict=True)) for row in response.json()["result"]]
