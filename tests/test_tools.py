"""The tool registry: tools, their environment variables and the per-tool operation lock, through HTTP on the
embedded stack."""

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest

from amigo_api.core.locks import acquire_lock, lock_holder, release_lock
from amigo_api.tools.service import tool_lock
from tests.conftest import Caller

SECRET = "s3cr3t-value-that-must-never-show"
PLAIN = "plain-value-shown-to-no-one"


def _url(caller: Caller, path: str = "") -> str:
    return f"/v1/{caller.org_id}/tool/{path}"


async def _create(client: httpx.AsyncClient, caller: Caller, name: str, tags: dict[str, Any] | None = None,
                  ) -> httpx.Response:
    return await client.post(_url(caller), headers=caller.headers,
                             json={"name": name, "description": f"The {name} tool.", "tags": tags or {}})


async def _tool(client: httpx.AsyncClient, caller: Caller, tool_id: str) -> dict[str, Any]:
    listed = await client.get(_url(caller), headers=caller.headers, params={"id": tool_id})
    assert listed.status_code == 200, listed.text
    tools: list[dict[str, Any]] = listed.json()["tools"]
    assert len(tools) == 1
    return tools[0]


async def test_create_modify_and_list(client: httpx.AsyncClient, admin: Caller) -> None:
    created = await _create(client, admin, "weather", {"team": "a", "beta": None})
    assert created.status_code == 201
    tool_id = created.json()["id"]
    tool = await _tool(client, admin, tool_id)
    assert tool["name"] == "weather" and tool["deprecated"] is False and tool["org_id"] == admin.org_id
    assert tool["envvars"] == [] and tool["secret_envvars"] == []
    assert sorted(tool["tags"], key=lambda t: t["key"]) == [{"key": "beta", "value": None},
                                                            {"key": "team", "value": "a"}]
    assert tool["creator"] == tool["updated_by"] == {"org_id": admin.org_id, "user_id": admin.user_id}
    modified = await client.post(_url(admin, tool_id), headers=admin.headers,
                                 json={"description": "Weather, now.", "tags": None})
    assert modified.status_code == 204
    tool = await _tool(client, admin, tool_id)
    assert tool["description"] == "Weather, now." and len(tool["tags"]) == 2  # null tags: unchanged


async def test_names_are_checked(client: httpx.AsyncClient, admin: Caller) -> None:
    too_long = await _create(client, admin, "a" * 65)
    assert too_long.status_code == 400 and too_long.json()["error_code"] == "tool_name_too_long"
    assert (await _create(client, admin, "a" * 64)).status_code == 201
    for bad in ("Weather", "has-dash", "", "x" * 10_000 + "!"):
        assert (await _create(client, admin, bad)).status_code == 422, bad
    for bad_body in ({"name": {"$ne": None}, "description": "d", "tags": {}},
                     {"name": "ok", "description": {"$gt": ""}, "tags": {}},
                     {"name": "ok", "description": "d", "tags": {f"k{i}": "v" for i in range(21)}},
                     {"name": "ok", "description": "d" * 10_001, "tags": {}}):
        assert (await client.post(_url(admin), headers=admin.headers, json=bad_body)).status_code == 422


async def test_one_active_tool_per_name_even_under_a_race(client: httpx.AsyncClient, admin: Caller) -> None:
    answers = await asyncio.gather(*(_create(client, admin, "racer") for _ in range(8)))
    assert sorted(a.status_code for a in answers) == [201] + [409] * 7
    assert {a.json()["error_code"] for a in answers if a.status_code == 409} == {"tool_exists"}
    listed = (await client.get(_url(admin), headers=admin.headers)).json()["tools"]
    assert [t["name"] for t in listed] == ["racer"]
    first = next(a.json()["id"] for a in answers if a.status_code == 201)
    assert (await client.delete(_url(admin, first), headers=admin.headers)).status_code == 204
    again = await _create(client, admin, "racer")  # a deprecated tool's name is free again
    assert again.status_code == 201
    both = (await client.get(_url(admin), headers=admin.headers, params={"sort_by": "-deprecated"})).json()["tools"]
    assert [(t["id"], t["deprecated"]) for t in both] == [(first, True), (again.json()["id"], False)]


async def test_filters_sorting_paging_and_filter_values(client: httpx.AsyncClient, admin: Caller) -> None:
    for i in range(25):
        assert (await _create(client, admin, f"tool_{i:02d}", {"team": "a" if i % 2 else "b",
                                                              "tier": str(i % 3)})).status_code == 201
    seen, token, pages = [], 0, 0
    while token is not None:
        page = (await client.get(_url(admin), headers=admin.headers, params={
            "sort_by": "-name", "limit": 10, "continuation_token": token})).json()
        assert (page["filter_values"] is not None) == (token == 0)
        seen += [t["name"] for t in page["tools"]]
        token, pages = page["continuation_token"], pages + 1
    assert seen == [f"tool_{i:02d}" for i in reversed(range(25))] and pages == 3
    first = (await client.get(_url(admin), headers=admin.headers, params={"tag": "team:a"})).json()
    assert first["filter_values"]["tags"] == ["team:a", "team:b", "tier:0", "tier:1", "tier:2"]  # all tools
    both = await client.get(_url(admin), headers=admin.headers, params={"tag": ["team:a", "tier:0"], "limit": 20})
    assert sorted(t["name"] for t in both.json()["tools"]) == ["tool_03", "tool_09", "tool_15", "tool_21"]
    any_tier = await client.get(_url(admin), headers=admin.headers, params={"tag": "tier:*", "limit": 20})
    assert len(any_tier.json()["tools"]) == 20 and any_tier.json()["has_more"] is True
    for bad in ({"limit": 0}, {"limit": 21}, {"sort_by": "description"}, {"id": "not-an-id"}):
        assert (await client.get(_url(admin), headers=admin.headers, params=bad)).status_code in (400, 422), bad


async def test_other_organizations_and_callers_without_permission(client: httpx.AsyncClient, admin: Caller,
                                                                  make_caller) -> None:  # type: ignore[no-untyped-def]
    tool_id = (await _create(client, admin, "private")).json()["id"]
    outsider: Caller = await make_caller(f"other{admin.org_id}")
    for method, path, body in (("POST", tool_id, {"description": "mine"}), ("DELETE", tool_id, None),
                               ("POST", f"{tool_id}/envvar", {"inserts": []})):
        answer = await client.request(method, _url(outsider, path), headers=outsider.headers, json=body)
        assert answer.status_code == 404, (method, path, answer.text)
    assert (await client.get(_url(outsider), headers=outsider.headers)).json()["tools"] == []
    user: Caller = await make_caller(admin.org_id, "DefaultUserRole")
    assert (await client.get(_url(user), headers=user.headers)).status_code == 200  # every member may list
    assert (await _create(client, user, "nope")).status_code == 403
    for method, path, body in (("POST", tool_id, {"description": "mine"}), ("DELETE", tool_id, None),
                               ("POST", f"{tool_id}/envvar", {"inserts": []})):
        assert (await client.request(method, _url(user, path), headers=user.headers, json=body)).status_code == 403
    assert (await client.get(_url(admin), headers=outsider.headers)).status_code == 401  # another org's token
    as_outsider = {**outsider.headers, "X-ORG-ID": outsider.org_id}
    assert (await client.get(_url(admin), headers=as_outsider)).status_code == 403  # no role here


async def test_grants_conditioned_on_tags(client: httpx.AsyncClient, admin: Caller,
                                          make_role_caller) -> None:  # type: ignore[no-untyped-def]
    team_a = (await _create(client, admin, "team_a_tool", {"team": "a"})).json()["id"]
    team_b = (await _create(client, admin, "team_b_tool", {"team": "b"})).json()["id"]
    editor: Caller = await make_role_caller(admin, "TeamAToolEditor", [
        {"permission_name": "Tool:ModifyTool", "conditions": {"tags": {"type": "Equals", "value": "team:a"}}}])
    assert (await client.post(_url(editor, team_a), headers=editor.headers,
                              json={"description": "ok"})).status_code == 204
    assert (await client.post(_url(editor, team_b), headers=editor.headers,
                              json={"description": "no"})).status_code == 403
    moved = await client.post(_url(editor, team_a), headers=editor.headers, json={"tags": {"team": "b"}})
    assert moved.status_code == 403  # may not move a tool out of what it may modify


async def test_environment_variables(client: httpx.AsyncClient, admin: Caller, app: Any,
                                     capfd: pytest.CaptureFixture[str]) -> None:
    tool_id = (await _create(client, admin, "mailer")).json()["id"]

    async def envvars(**body: Any) -> httpx.Response:
        return await client.post(_url(admin, f"{tool_id}/envvar"), headers=admin.headers, json=body)

    assert (await envvars(inserts=[{"name": "API_TOKEN", "value": SECRET, "is_secret": True},
                                   {"name": "REGION", "value": PLAIN, "is_secret": False}])).status_code == 204
    tool = await _tool(client, admin, tool_id)
    assert tool["envvars"] == ["REGION"] and tool["secret_envvars"] == ["API_TOKEN"]
    exists = await envvars(inserts=[{"name": "REGION", "value": "us", "is_secret": False}])
    assert exists.status_code == 409 and exists.json()["error_code"] == "envvar_exists"
    missing = await envvars(updates=[{"name": "NOPE", "value": "x"}])
    assert missing.status_code == 400 and missing.json()["error_code"] == "envvar_not_found"
    assert (await envvars(deletes=[{"name": "NOPE"}])).json()["error_code"] == "envvar_not_found"
    twice = await envvars(updates=[{"name": "REGION", "value": "us"}], deletes=[{"name": "REGION"}])
    assert twice.status_code == 400 and twice.json()["error_code"] == "envvar_named_twice"
    # A refused change leaves nothing half-done: the insert with it did not happen either.
    refused = await envvars(inserts=[{"name": "EXTRA", "value": "1", "is_secret": False}],
                            deletes=[{"name": "NOPE"}])
    assert refused.status_code == 400 and (await _tool(client, admin, tool_id))["envvars"] == ["REGION"]
    assert (await envvars(updates=[{"name": "API_TOKEN", "value": SECRET + "2"}],
                          deletes=[{"name": "REGION"}])).status_code == 204
    again = await envvars(inserts=[{"name": "REGION", "value": "eu", "is_secret": False}])
    assert again.status_code == 409 and again.json()["error_code"] == "envvar_recently_deleted"
    for bad in ({"inserts": [{"name": "lower", "value": "x", "is_secret": False}]},
                {"inserts": [{"name": "1ST", "value": "x", "is_secret": False}]},
                {"inserts": [{"name": "BIG", "value": "x" * (64 * 1024 + 1), "is_secret": False}]},
                {"deletes": [{"name": {"$ne": None}}]},
                {"inserts": [{"name": f"V{i}", "value": "x", "is_secret": False} for i in range(101)]}):
        assert (await envvars(**bad)).status_code == 422, str(bad)[:80]
    # A value is never shown: not in any answer, not stored in clear, not in the logs.
    org = await app.state.clusters.org_db(admin.org_id)
    raw = await org.db["tools"].find_one({"_id": tool_id})
    assert raw is not None
    assert SECRET not in repr(raw) and raw["secret_envvar_values"]["API_TOKEN"] != SECRET + "2"
    assert app.state.secret_box.decrypt(raw["secret_envvar_values"]["API_TOKEN"]) == SECRET + "2"
    listed = await client.get(_url(admin), headers=admin.headers)
    sql = await client.post(f"/v1/{admin.org_id}/admin/sql_query", headers=admin.headers,
                            json={"sql_query": "select * from tools", "async_query": False})
    assert sql.status_code == 200 and "API_TOKEN" in sql.text, sql.text
    captured = capfd.readouterr()
    for text in (listed.text, sql.text, exists.text, twice.text, captured.out, captured.err):
        assert SECRET not in text and PLAIN not in text


async def test_deprecation_takes_the_tool_and_its_versions_and_waits_for_its_lock(
        client: httpx.AsyncClient, admin: Caller, app: Any) -> None:
    tool_id = (await _create(client, admin, "versioned")).json()["id"]
    org = await app.state.clusters.org_db(admin.org_id)
    versions = org.db["tool_versions"]
    await versions.insert_many([{"_id": f"{tool_id[:-1]}{i}", "org_id": admin.org_id, "tool_id": tool_id,
                                 "deprecated": False, "required_envvars": ["REGION"],
                                 "required_secret_envvars": []} for i in range(2)])
    await client.post(_url(admin, f"{tool_id}/envvar"), headers=admin.headers,
                      json={"inserts": [{"name": "REGION", "value": "eu", "is_secret": False}]})
    in_use = await client.post(_url(admin, f"{tool_id}/envvar"), headers=admin.headers,
                               json={"deletes": [{"name": "REGION"}]})
    assert in_use.status_code == 400 and in_use.json()["error_code"] == "envvar_in_use"
    assert await acquire_lock(org, tool_lock(tool_id), "publish/1", timedelta(minutes=5))
    assert not await acquire_lock(org, tool_lock(tool_id), "publish/2", timedelta(minutes=5))
    busy = await client.delete(_url(admin, tool_id), headers=admin.headers)
    assert busy.status_code == 409 and busy.json()["detail"] == "A related operation is in progress."
    assert await lock_holder(org, tool_lock(tool_id)) == "publish/1"
    await release_lock(org, tool_lock(tool_id), "publish/1")
    assert (await client.delete(_url(admin, tool_id), headers=admin.headers)).status_code == 204
    assert await lock_holder(org, tool_lock(tool_id)) is None
    assert (await _tool(client, admin, tool_id))["deprecated"] is True
    assert await versions.count_documents({"tool_id": tool_id, "deprecated": False}) == 0
    # Its versions no longer need the variable, so it may go.
    assert (await client.post(_url(admin, f"{tool_id}/envvar"), headers=admin.headers,
                              json={"deletes": [{"name": "REGION"}]})).status_code == 204


async def test_an_expired_lock_can_be_taken_and_the_holder_can_renew(app: Any, admin: Caller) -> None:
    org = await app.state.clusters.org_db(admin.org_id)
    assert await acquire_lock(org, "tool/x", "a", timedelta(seconds=-1))  # already expired
    assert await acquire_lock(org, "tool/x", "b", timedelta(minutes=1))
    assert await acquire_lock(org, "tool/x", "b", timedelta(minutes=2))  # renewed by its holder
    assert not await acquire_lock(org, "tool/x", "a", timedelta(minutes=1))
    await release_lock(org, "tool/x", "a")  # not the holder: nothing happens
    assert await lock_holder(org, "tool/x") == "b"


async def test_modify_and_deprecate_probes(client: httpx.AsyncClient, admin: Caller) -> None:
    tool_id = (await _create(client, admin, "probed")).json()["id"]
    for bad_body in ({"description": {"$ne": None}}, {"tags": {"$where": "1"}}, {"description": ""},
                     {"description": "d" * 10_001}, {"tags": {f"k{i}": None for i in range(21)}}):
        answer = await client.post(_url(admin, tool_id), headers=admin.headers, json=bad_body)
        assert answer.status_code == 422, bad_body
    for unknown in ("not-an-id", "a" * 24 + "0", "0" * 24):
        assert (await client.post(_url(admin, unknown), headers=admin.headers, json={})).status_code == 404
        assert (await client.delete(_url(admin, unknown), headers=admin.headers)).status_code == 404
    envvar = await client.post(_url(admin, f"{unknown}/envvar"), headers=admin.headers, json={})
    assert envvar.status_code == 404 and envvar.json()["error_code"] == "tool_not_found"
