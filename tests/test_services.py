"""Services: one active service per name (enforced by the database), edge and release version sets, filters,
and only the services a caller may see."""

import asyncio
from typing import Any

import httpx

from tests.builders import created_id, new_agent, new_service, new_state_machine, service_body
from tests.conftest import Caller

EMPTY_SET = {"agent_version_number": None, "service_hierarchical_state_machine_version_number": None,
             "llm_model_preferences": {}}


def _base(caller: Caller) -> str:
    return f"/v1/{caller.org_id}/service/"


async def _services(client: httpx.AsyncClient, caller: Caller, **params: Any) -> dict[str, Any]:
    response = await client.get(_base(caller), headers=caller.headers, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_create_makes_edge_and_release_version_sets(client: httpx.AsyncClient, admin: Caller) -> None:
    agent_id = await new_agent(client, admin, "coach", versions=2)
    machine_id = await new_state_machine(client, admin, "flow")
    release = {"agent_version_number": 1, "service_hierarchical_state_machine_version_number": None,
               "llm_model_preferences": {"engage_user": {"llm_name": "openai_gpt-4.1-2025-04-14",
                                                         "params": {"temperature": 0.3, "top_p": 0.9}}}}
    pinned = await created_id(await client.post(_base(admin), headers=admin.headers, json=service_body(
        agent_id, machine_id, "Pinned", release_version_set=release, tags={"team": "a", "tier": None},
        keyterms=["blood sugar", "a-one"])))
    default = await created_id(await client.post(_base(admin), headers=admin.headers,
                                                 json=service_body(agent_id, machine_id, "Default")))
    services = {s["id"]: s for s in (await _services(client, admin))["services"]}
    assert services[pinned]["version_sets"] == {"edge": EMPTY_SET, "release": release}
    assert services[default]["version_sets"] == {"edge": EMPTY_SET, "release": EMPTY_SET}
    assert services[pinned]["tags"] == [{"key": "team", "value": "a"}, {"key": "tier", "value": None}]
    assert services[pinned]["keyterms"] == ["blood sugar", "a-one"]
    assert services[pinned]["creator"] == services[pinned]["updated_by"] == {"org_id": admin.org_id,
                                                                             "user_id": admin.user_id}
    assert services[pinned]["agent_id"] == agent_id and services[pinned]["is_active"] is True


async def test_create_refusals(client: httpx.AsyncClient, admin: Caller) -> None:
    agent_id = await new_agent(client, admin, "coach")
    machine_id = await new_state_machine(client, admin, "flow")
    bare_agent = await new_agent(client, admin, "bare", versions=0)

    async def create(**overrides: Any) -> httpx.Response:
        fields = {"agent_id": agent_id, "machine_id": machine_id, "name": "Svc", **overrides}
        body = service_body(fields.pop("agent_id"), fields.pop("machine_id"), fields.pop("name"), **fields)
        return await client.post(_base(admin), headers=admin.headers, json=body)

    def release(**fields: Any) -> dict[str, Any]:
        return {"release_version_set": {**EMPTY_SET, **fields}}

    assert (await create(agent_id="f" * 24)).status_code == 404
    assert (await create(machine_id="f" * 24)).status_code == 404
    no_versions = await create(agent_id=bare_agent)
    assert no_versions.status_code == 400 and no_versions.json()["error_code"] == "agent_has_no_versions"
    assert (await create(**release(agent_version_number=5))).json()["error_code"] == "version_not_in_service"
    unknown_model = await create(**release(llm_model_preferences={"engage_user": {"llm_name": "gpt-99"}}))
    assert unknown_model.status_code == 400 and "gpt-99" in unknown_model.json()["detail"]
    out_of_range = await create(**release(llm_model_preferences={
        "engage_user": {"llm_name": "google_gemini-2.5-pro", "params": {"temperature": 7}}}))
    assert out_of_range.status_code == 400 and "temperature" in out_of_range.json()["detail"]
    unknown_param = await create(**release(llm_model_preferences={
        "engage_user": {"llm_name": "openai_gpt-4.1-2025-04-14", "params": {"top_k": 5}}}))
    assert unknown_param.status_code == 400
    for bad in ({"keyterms": ["UPPER"]}, {"keyterms": ["a b c d"]}, {"keyterms": ["k"] * 21},
                {"tags": {"bad:key": "v"}}, {"tags": {f"k{i}": None for i in range(21)}}, {"name": ""},
                {"agent_id": "xyz"}, release(agent_version_number=10**20),
                release(llm_model_preferences={"bad.name": {"llm_name": "google_gemini-2.5-pro"}})):
        assert (await create(**bad)).status_code == 422, bad
    assert (await _services(client, admin))["services"] == []


async def test_one_active_service_per_name_even_under_concurrency(client: httpx.AsyncClient, admin: Caller) -> None:
    agent_id = await new_agent(client, admin, "coach")
    machine_id = await new_state_machine(client, admin, "flow")
    body = service_body(agent_id, machine_id, "Racing")
    responses = await asyncio.gather(*[client.post(_base(admin), headers=admin.headers, json=body)
                                       for _ in range(2)])
    assert sorted(r.status_code for r in responses) == [201, 409]
    conflict = next(r for r in responses if r.status_code == 409)
    assert conflict.json()["error_code"] == "active_service_exists"
    # Inactive services may share the name; activating one of them then conflicts.
    inactive = await created_id(await client.post(_base(admin), headers=admin.headers,
                                                  json={**body, "is_active": False}))
    activate = await client.post(f"{_base(admin)}{inactive}/", headers=admin.headers, json={"is_active": True})
    assert activate.status_code == 409
    assert len((await _services(client, admin, is_active=True))["services"]) == 1


async def test_version_sets_upsert_and_delete(client: httpx.AsyncClient, admin: Caller) -> None:
    service_id, _, _ = await new_service(client, admin)
    url = f"{_base(admin)}{service_id}/version_sets"
    pinned = {**EMPTY_SET, "agent_version_number": 1}

    async def put(name: str, version_set: dict[str, Any], service: str = service_id) -> int:
        response = await client.put(f"{_base(admin)}{service}/version_sets/{name}/", headers=admin.headers,
                                    json={"version_set": version_set})
        return response.status_code

    assert await put("edge", pinned) == 400
    assert await put("canary", pinned) == 204
    assert await put("release", pinned) == 204
    assert await put("canary", {**EMPTY_SET, "service_hierarchical_state_machine_version_number": 9}) == 400
    assert await put("bad.name", pinned) == 422
    assert await put("x" * 41, pinned) == 422
    assert await put("x", pinned, service="f" * 24) == 404
    sets = (await _services(client, admin))["services"][0]["version_sets"]
    assert sets == {"edge": EMPTY_SET, "release": pinned, "canary": pinned}

    for name in ("edge", "release"):
        assert (await client.delete(f"{url}/{name}/", headers=admin.headers)).status_code == 400
    assert (await client.delete(f"{url}/nightly/", headers=admin.headers)).status_code == 404
    assert (await client.delete(f"{url}/canary/", headers=admin.headers)).status_code == 204
    assert set((await _services(client, admin))["services"][0]["version_sets"]) == {"edge", "release"}


async def test_update_service_and_what_activation_requires(client: httpx.AsyncClient, admin: Caller) -> None:
    service_id, agent_id, machine_id = await new_service(client, admin, "Main")
    url = f"{_base(admin)}{service_id}/"
    agents = f"/v1/{admin.org_id}/organization/agent"
    in_use = await client.delete(f"{agents}/{agent_id}/", headers=admin.headers)
    assert in_use.status_code == 400 and "'Main'" in in_use.json()["detail"]
    machines = f"/v1/{admin.org_id}/organization/service_hierarchical_state_machine"
    assert (await client.delete(f"{machines}/{machine_id}/", headers=admin.headers)).status_code == 400

    changed = await client.post(url, headers=admin.headers, json={
        "name": "Renamed", "description": "New words.", "tags": {"team": "b"}, "keyterms": ["glucose"]})
    assert changed.status_code == 200 and changed.json() == {}
    service = (await _services(client, admin))["services"][0]
    assert (service["name"], service["description"], service["keyterms"]) == ("Renamed", "New words.", ["glucose"])
    assert service["tags"] == [{"key": "team", "value": "b"}]

    assert (await client.post(url, headers=admin.headers, json={"is_active": False})).status_code == 200
    assert (await client.delete(f"{agents}/{agent_id}/", headers=admin.headers)).status_code == 200
    reactivate = await client.post(url, headers=admin.headers, json={"is_active": True})
    assert reactivate.status_code == 400 and reactivate.json()["error_code"] == "agent_deleted"
    missing_agent = await client.post(url, headers=admin.headers, json={"agent_id": "f" * 24})
    assert missing_agent.status_code == 400
    other_agent = await new_agent(client, admin, "other coach")
    swapped = await client.post(url, headers=admin.headers, json={"agent_id": other_agent, "is_active": True})
    assert swapped.status_code == 200
    assert (await _services(client, admin))["services"][0]["agent_id"] == other_agent
    assert (await client.post(f"{_base(admin)}{'f' * 24}/", headers=admin.headers, json={})).status_code == 404
    assert (await client.post(url, headers=admin.headers, json={"keyterms": ["NO"]})).status_code == 422


async def test_filters_sorting_pagination_and_filter_values(client: httpx.AsyncClient, admin: Caller) -> None:
    agent_id = await new_agent(client, admin, "coach")
    machine_id = await new_state_machine(client, admin, "flow")
    specs = [("alpha", True, {"team": "a"}), ("beta", False, {"team": "b"}), ("gamma", True, {"team": "a", "x": None}),
             ("delta", True, {})]
    ids = {}
    for name, active, tags in specs:
        ids[name] = await created_id(await client.post(_base(admin), headers=admin.headers, json=service_body(
            agent_id, machine_id, name, is_active=active, tags=tags)))

    async def names(**params: Any) -> list[str]:
        return [s["name"] for s in (await _services(client, admin, **params))["services"]]

    assert await names(sort_by="+name") == ["alpha", "beta", "delta", "gamma"]
    assert await names(sort_by=["-is_active", "-name"]) == ["gamma", "delta", "alpha", "beta"]
    assert await names(tags="team:a", sort_by="name") == ["alpha", "gamma"]
    assert await names(tags="team:*", sort_by="name") == ["alpha", "beta", "gamma"]
    assert await names(tags="x:") == ["gamma"]
    assert await names(tags=["team:a", "x:*"]) == ["gamma"]
    assert await names(is_active=False) == ["beta"]
    assert await names(id=[ids["beta"], ids["delta"]], sort_by="name") == ["beta", "delta"]
    first = await _services(client, admin, limit=3, sort_by="name")
    assert first["has_more"] and first["continuation_token"] == 3
    assert first["filter_values"] == {"tags": ["team:a", "team:b", "x:"]}
    second = await _services(client, admin, limit=3, sort_by="name", continuation_token=3)
    assert [s["name"] for s in second["services"]] == ["gamma"] and not second["has_more"]
    assert second["filter_values"] is None and second["continuation_token"] is None
    assert (await _services(client, admin, is_active=False))["filter_values"] == {"tags": ["team:b"]}
    for bad in ({"limit": 0}, {"limit": 21}, {"sort_by": "created_at"}, {"tags": "team"}, {"id": "nope"},
                {"id": [ids["beta"], ids["beta"]]}):
        assert (await client.get(_base(admin), headers=admin.headers, params=bad)).status_code == 422, bad


async def test_a_tag_condition_narrows_the_list_to_those_services(client: httpx.AsyncClient, admin: Caller,
                                                                  make_role_caller) -> None:  # type: ignore[no-untyped-def]
    agent_id = await new_agent(client, admin, "coach")
    machine_id = await new_state_machine(client, admin, "flow")
    for name, tags in (("one", {"team": "a"}), ("two", {"team": "b"}), ("three", {"team": "a", "env": "prod"}),
                       ("four", {})):
        await created_id(await client.post(_base(admin), headers=admin.headers,
                                           json=service_body(agent_id, machine_id, name, tags=tags)))
    team_a = await make_role_caller(admin, "TeamAViewer", [
        {"permission_name": "Service:GetService", "conditions": {"tags": {"type": "Equals", "value": "team:a"}}}])
    seen = await _services(client, team_a, sort_by="name")
    assert [s["name"] for s in seen["services"]] == ["one", "three"]
    # filter_values count every service, as the contract says.
    assert seen["filter_values"] == {"tags": ["env:prod", "team:a", "team:b"]}
    one_service = await make_role_caller(admin, "OneServiceViewer", [
        {"permission_name": "Service:GetService",
         "conditions": {"service_id": {"type": "In", "values": [seen["services"][1]["id"]]}}}])
    assert [s["name"] for s in (await _services(client, one_service))["services"]] == ["three"]
    nothing = await make_role_caller(admin, "NoServices", [{"permission_name": "Admin:GetModels", "conditions": {}}])
    assert (await _services(client, nothing))["services"] == []
    refused = await client.post(_base(admin), headers=team_a.headers,
                                json=service_body(agent_id, machine_id, "five"))
    assert refused.status_code == 403
