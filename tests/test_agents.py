"""Agents: create, list, deprecate, and numbered versions that inherit what a new version leaves out."""

import httpx

from tests.builders import AGENT_VERSION, created_id, new_agent
from tests.conftest import Caller


def _base(caller: Caller) -> str:
    return f"/v1/{caller.org_id}/organization/agent"


async def test_agents_are_created_listed_and_deprecated(client: httpx.AsyncClient, admin: Caller) -> None:
    base = _base(admin)
    ids = [await created_id(await client.post(base, headers=admin.headers, json={"agent_name": f"agent {i}"}))
           for i in range(3)]
    duplicate = await client.post(base, headers=admin.headers, json={"agent_name": "agent 0"})
    assert duplicate.status_code == 409 and duplicate.json()["error_code"] == "agent_exists"
    assert (await client.post(base, headers=admin.headers, json={"agent_name": ""})).status_code == 422

    first = (await client.get(base, headers=admin.headers, params={"limit": 2})).json()
    assert [a["id"] for a in first["agents"]] == ids[:2] and first["has_more"] and first["continuation_token"] == 2
    rest = (await client.get(base, headers=admin.headers, params={"continuation_token": 2})).json()
    assert [a["id"] for a in rest["agents"]] == ids[2:] and not rest["has_more"] and rest["continuation_token"] is None
    assert rest["agents"][0] == {"id": ids[2], "name": "agent 2", "deprecated": False, "latest_version": None}
    assert (await client.get(base, headers=admin.headers, params={"limit": 21})).status_code == 422

    assert (await client.delete(f"{base}/{ids[0]}/", headers=admin.headers)).json() == {}
    again = await client.delete(f"{base}/{ids[0]}/", headers=admin.headers)
    assert again.status_code == 409
    assert (await client.delete(f"{base}/{'f' * 24}/", headers=admin.headers)).status_code == 404
    assert (await client.delete(f"{base}/not-an-id/", headers=admin.headers)).status_code == 404
    deprecated = (await client.get(base, headers=admin.headers, params={"deprecated": True})).json()["agents"]
    assert [a["id"] for a in deprecated] == [ids[0]]
    by_id = (await client.get(base, headers=admin.headers, params={"id": [ids[1], ids[2]]})).json()["agents"]
    assert {a["id"] for a in by_id} == {ids[1], ids[2]}
    # A deprecated agent's name is free again.
    assert (await client.post(base, headers=admin.headers, json={"agent_name": "agent 0"})).status_code == 201


async def test_versions_are_numbered_inherit_fields_and_refuse_stale_writes(client: httpx.AsyncClient,
                                                                           admin: Caller) -> None:
    base = _base(admin)
    agent_id = await created_id(await client.post(base, headers=admin.headers, json={"agent_name": "coach"}))
    incomplete = await client.post(f"{base}/{agent_id}/", headers=admin.headers, json={"initials": "AB"})
    assert incomplete.status_code == 400 and "identity" in incomplete.json()["detail"]
    first = await client.post(f"{base}/{agent_id}/", headers=admin.headers, json=AGENT_VERSION)
    assert first.status_code == 201 and first.json()["version"] == 1
    second = await client.post(f"{base}/{agent_id}/", headers=admin.headers, params={"version": 2},
                               json={"background": "A calmer coach.", "voice_config": {"voice_id": "v-1"}})
    assert second.status_code == 201 and second.json()["version"] == 2
    stale = await client.post(f"{base}/{agent_id}/", headers=admin.headers, params={"version": 2},
                              json={"initials": "X"})
    assert stale.status_code == 409 and stale.json()["error_code"] == "unexpected_version"
    assert (await client.post(f"{base}/{'f' * 24}/", headers=admin.headers, json=AGENT_VERSION)).status_code == 404
    assert (await client.post(f"{base}/{agent_id}/", headers=admin.headers,
                              json={"initials": "TOOLONG"})).status_code == 422
    await created_id(await client.post(f"{base}/{agent_id}/", headers=admin.headers, json={"initials": "C"}))

    versions = f"{base}/{agent_id}/version"
    listed = (await client.get(versions, headers=admin.headers)).json()
    assert [v["version"] for v in listed["agent_versions"]] == [3, 2, 1]
    latest = listed["agent_versions"][0]
    assert latest["initials"] == "C" and latest["background"] == "A calmer coach."
    assert latest["voice_config"] == {"voice_id": "v-1", "stability": 0, "similarity_boost": 0, "style": 0}
    assert latest["identity"] == AGENT_VERSION["identity"] and latest["agent_id"] == agent_id
    assert latest["creator"] == {"org_id": admin.org_id, "user_id": admin.user_id}
    assert listed["agent_versions"][2]["voice_config"] is None

    async def numbers(**params: object) -> list[int]:
        response = await client.get(versions, headers=admin.headers, params=params)
        assert response.status_code == 200, response.text
        return [v["version"] for v in response.json()["agent_versions"]]

    assert await numbers(version="latest") == [3]
    assert await numbers(version="2") == [2]
    assert await numbers(version="1-2", sort_by="+version") == [1, 2]
    assert await numbers(limit=1, continuation_token=1) == [2]
    for bad in ("2-1", "newest", "1-"):
        assert (await client.get(versions, headers=admin.headers, params={"version": bad})).status_code == 422
    assert (await client.get(versions, headers=admin.headers, params={"sort_by": "-name"})).status_code == 422
    agents = (await client.get(base, headers=admin.headers)).json()["agents"]
    assert agents[0]["latest_version"] == 3


async def test_concurrent_versions_get_distinct_numbers(client: httpx.AsyncClient, admin: Caller) -> None:
    import asyncio

    agent_id = await new_agent(client, admin, "busy")
    responses = await asyncio.gather(*[
        client.post(f"{_base(admin)}/{agent_id}/", headers=admin.headers, json={"background": f"take {i}"})
        for i in range(4)])
    created = sorted(r.json()["version"] for r in responses if r.status_code == 201)
    assert all(r.status_code in (201, 409) for r in responses)
    assert created == list(range(2, 2 + len(created))) and created


async def test_conditions_on_agents_narrow_what_a_role_sees(client: httpx.AsyncClient, admin: Caller,
                                                           make_role_caller) -> None:  # type: ignore[no-untyped-def]
    visible = await new_agent(client, admin, "public coach")
    hidden = await new_agent(client, admin, "private coach")
    viewer = await make_role_caller(admin, "PublicAgentViewer", [
        {"permission_name": "Organization:GetAgent",
         "conditions": {"agent_name": {"type": "Equals", "value": "public coach"}}}])
    seen = (await client.get(_base(admin), headers=viewer.headers)).json()["agents"]
    assert [a["id"] for a in seen] == [visible]
    assert (await client.get(f"{_base(admin)}/{visible}/version", headers=viewer.headers)).status_code == 200
    assert (await client.get(f"{_base(admin)}/{hidden}/version", headers=viewer.headers)).status_code == 403
    refused = await client.post(_base(admin), headers=viewer.headers, json={"agent_name": "mine"})
    assert refused.status_code == 403


async def test_numbers_beyond_bson_integers_are_client_errors(client: httpx.AsyncClient, admin: Caller) -> None:
    agent_id = await new_agent(client, admin, "bounded")
    huge = 10**20
    for url, params in ((_base(admin), {"continuation_token": huge}),
                        (f"{_base(admin)}/{agent_id}/version", {"version": str(huge)}),
                        (f"{_base(admin)}/{agent_id}/version", {"version": f"1-{huge}"})):
        response = await client.get(url, headers=admin.headers, params=params)
        assert response.status_code == 422, (params, response.text)
    stale = await client.post(f"{_base(admin)}/{agent_id}/", headers=admin.headers, params={"version": huge},
                              json={"initials": "Z"})
    assert stale.status_code == 422
