"""Reading and deprecating tool versions by PEP 440 specifier (versions are stored as publishing stores them)."""

from datetime import timedelta
from typing import Any

import httpx

from amigo_api.core.clock import utcnow
from amigo_api.core.ids import new_id
from tests.conftest import Caller

VERSIONS = ["1.0.0", "1.1.0", "1.2.3", "2.0.0", "2.1.0", "3.0.0"]


async def _tool_with_versions(client: httpx.AsyncClient, app: Any, admin: Caller, other_creator: str
                              ) -> tuple[str, dict[str, str]]:
    created = await client.post(f"/v1/{admin.org_id}/tool/", headers=admin.headers,
                                json={"name": f"t{new_id()[:8]}", "description": "Versioned.", "tags": {}})
    tool_id = created.json()["id"]
    org = await app.state.clusters.org_db(admin.org_id)
    ids, started = {}, utcnow()
    for i, text in enumerate(VERSIONS):
        major, minor, patch = (int(p) for p in text.split("."))
        user = other_creator if i == 0 else admin.user_id
        ids[text] = new_id()
        await org.db["tool_versions"].insert_one({
            "_id": ids[text], "org_id": admin.org_id, "tool_id": tool_id,
            "version": {"major": major, "minor": minor, "patch": patch}, "required_envvars": [],
            "required_secret_envvars": [], "input_schema": {"type": "object"}, "tool_commit_hash": "c" * 40,
            "amigo_scaffold_commit_hash": "", "project_directory": "greeting", "lambda_version": i + 1,
            "deprecated": False, "creator": {"user_id": user, "user_org_id": admin.org_id},
            "updated_by": {"user_id": user, "user_org_id": admin.org_id},
            "created_at": started + timedelta(seconds=i), "updated_at": started + timedelta(seconds=i)})
    return tool_id, ids


async def test_filters_sorting_paging_and_creators(client: httpx.AsyncClient, app: Any, admin: Caller) -> None:
    tool_id, _ = await _tool_with_versions(client, app, admin, "a" * 24)
    url = f"/v1/{admin.org_id}/tool/{tool_id}/version"

    async def names(**params: Any) -> list[str]:
        answer = await client.get(url, headers=admin.headers, params=params)
        assert answer.status_code == 200, answer.text
        return [".".join(str(v["version"][k]) for k in ("major", "minor", "patch"))
                for v in answer.json()["tool_versions"]]

    assert await names(sort_by="+created_at") == VERSIONS
    assert await names(versions=">=1.1,<2", sort_by="-version.minor") == ["1.2.3", "1.1.0"]
    assert await names(versions="~=2.0", sort_by="+created_at") == ["2.0.0", "2.1.0"]
    assert await names(versions="==1.2.*") == ["1.2.3"]
    assert await names(creator=f"{admin.org_id},{'a' * 24}") == ["1.0.0"]
    first = (await client.get(url, headers=admin.headers, params={"limit": 4, "sort_by": "-created_at"})).json()
    assert first["has_more"] is True and first["continuation_token"] == 4 and len(first["tool_versions"]) == 4
    assert sorted(c["user_id"] for c in first["filter_values"]["creators"]) == sorted(["a" * 24, admin.user_id])
    rest = (await client.get(url, headers=admin.headers, params={"limit": 4, "continuation_token": 4,
                                                                 "sort_by": "-created_at"})).json()
    assert rest["has_more"] is False and rest["filter_values"] is None and len(rest["tool_versions"]) == 2
    empty = (await client.get(url, headers=admin.headers, params={"limit": 0})).json()
    assert empty["tool_versions"] == [] and empty["has_more"] is True
    version = first["tool_versions"][0]
    assert version["creator"] == {"user_id": admin.user_id, "user_org_id": admin.org_id}
    assert version["lambda_version"] == 6 and version["org_id"] == admin.org_id
    for bad in ({"versions": ">=>1"}, {"versions": "x" * 257}, {"limit": 51}, {"sort_by": "name"},
                {"creator": "no-comma"}):
        assert (await client.get(url, headers=admin.headers, params=bad)).status_code in (400, 422), bad
    malformed = await client.get(url, headers=admin.headers, params={"versions": ">=>1"})
    assert malformed.status_code == 422 and "PEP 440" in malformed.json()["detail"]


async def test_deprecation_by_specifier(client: httpx.AsyncClient, app: Any, admin: Caller,
                                        make_caller) -> None:  # type: ignore[no-untyped-def]
    tool_id, _ = await _tool_with_versions(client, app, admin, admin.user_id)
    base = f"/v1/{admin.org_id}/tool/{tool_id}/version"
    assert (await client.delete(f"{base}/<2", headers=admin.headers)).status_code == 204
    listed = (await client.get(base, headers=admin.headers, params={"deprecated": False, "sort_by": "+created_at"}))
    assert [v["version"]["major"] for v in listed.json()["tool_versions"]] == [2, 2, 3]
    assert (await client.delete(f"{base}/==9.9.9", headers=admin.headers)).status_code == 204  # matches none
    assert (await client.delete(f"{base}/not a specifier", headers=admin.headers)).status_code == 422
    user: Caller = await make_caller(admin.org_id, "DefaultUserRole")
    assert (await client.delete(f"{base}/>=0", headers=user.headers)).status_code == 403
    assert (await client.get(base, headers=user.headers)).status_code == 200  # any member may read
    outsider: Caller = await make_caller(f"other{admin.org_id}")
    foreign = f"/v1/{outsider.org_id}/tool/{tool_id}/version"
    assert (await client.get(foreign, headers=outsider.headers)).status_code == 404
    assert (await client.delete(f"{foreign}/>=0", headers=outsider.headers)).status_code == 404
    sql = await client.post(f"/v1/{admin.org_id}/admin/sql_query", headers=admin.headers, json={
        "sql_query": "select count(*) as n from tool_versions where deprecated", "async_query": False})
    assert sql.status_code == 200 and sql.json()["result"] == [[3]], sql.text
