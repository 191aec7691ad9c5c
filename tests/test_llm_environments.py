"""LLM analytics environments and credentials: integer ids and project tokens, `/api/environments/{id}/` and
its `/api/projects` twin with Amigo tokens (Bearer and Basic) and personal API keys, every refusal in PostHog's
error shape, scopes and grants through one dependency, and default roles gaining the new permissions."""

import asyncio
import base64
import uuid
from typing import Any

import httpx
from fastapi import Depends
from pymongo import MongoClient

from amigo_api.app import create_app
from amigo_api.core.permissions import PERMISSIONS
from amigo_api.llm_analytics.auth import EnvironmentCaller, environment_access
from amigo_api.llm_analytics.service import scopes_allow, user_basic
from amigo_api.roles import service as roles_service
from amigo_api.roles.defaults import ADDED_PERMISSIONS
from amigo_api.settings import Settings
from tests.conftest import Caller


async def _environment(client: httpx.AsyncClient, caller: Caller, name: str = "prod") -> dict[str, Any]:
    response = await client.post(f"/v1/{caller.org_id}/llm_analytics/environments/", headers=caller.headers,
                                 json={"name": name})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def _key(client: httpx.AsyncClient, caller: Caller, *scopes: str) -> dict[str, Any]:
    response = await client.post(f"/v1/{caller.org_id}/llm_analytics/api_keys/", headers=caller.headers,
                                 json={"label": "ci", "scopes": list(scopes)})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


async def test_environments_and_who_may_read_them(client: httpx.AsyncClient, admin: Caller, make_caller,  # type: ignore[no-untyped-def]
                                                  make_role_caller, new_org_id: str) -> None:
    first, second = await asyncio.gather(_environment(client, admin, "a"), _environment(client, admin, "b"))
    assert first["id"] != second["id"] and first["api_token"].startswith("phc_")
    listed = await client.get(f"/v1/{admin.org_id}/llm_analytics/environments/", headers=admin.headers)
    assert sorted(e["id"] for e in listed.json()["environments"]) == sorted([first["id"], second["id"]])
    for base in ("/api/environments", "/api/projects"):
        got = await client.get(f"{base}/{first['id']}/", headers=admin.headers)
        assert got.status_code == 200 and got.json() == first, got.text
    basic = base64.b64encode(f"{admin.org_id}_{admin.user_id}:{admin.token}".encode()).decode()
    assert (await client.get(f"/api/environments/{first['id']}/",
                             headers={"Authorization": f"Basic {basic}"})).status_code == 200

    anonymous = await client.get(f"/api/environments/{first['id']}/")
    assert anonymous.status_code == 401
    assert anonymous.json() == {"type": "authentication_error", "code": "not_authenticated",
                                "detail": "Authentication credentials were not provided.", "attr": None}
    missing = await client.get("/api/environments/999999999/", headers=admin.headers)
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert missing.json()["type"] == "invalid_request"
    malformed = await client.get("/api/environments/abc/", headers=admin.headers)
    assert malformed.status_code == 400 and malformed.json()["attr"] == "environment_id"
    assert malformed.json()["type"] == "validation_error"

    stranger: Caller = await make_caller(f"{new_org_id}s")
    foreign = await client.get(f"/api/environments/{first['id']}/", headers=stranger.headers)
    assert foreign.status_code == 403 and foreign.json()["type"] == "authentication_error"
    for path in ("environments/", "api_keys/"):  # their token on our organization's /v1 routes
        assert (await client.get(f"/v1/{admin.org_id}/llm_analytics/{path}",
                                 headers=stranger.headers)).status_code == 401
    theirs = await client.get(f"/v1/{stranger.org_id}/llm_analytics/environments/", headers=stranger.headers)
    assert theirs.json()["environments"] == []  # ours are not theirs
    user: Caller = await make_caller(admin.org_id, "DefaultUserRole")
    refused = await client.post(f"/v1/{admin.org_id}/llm_analytics/environments/", headers=user.headers,
                                json={"name": "x"})
    assert refused.status_code == 403 and "error_code" in refused.json()  # /v1 keeps Amigo's errors
    for bad in ({"name": ""}, {"name": "x" * 201}, {"name": {"$ne": ""}}):
        response = await client.post(f"/v1/{admin.org_id}/llm_analytics/environments/", headers=admin.headers,
                                     json=bad)
        assert response.status_code == 422, bad


async def test_personal_api_keys(client: httpx.AsyncClient, admin: Caller, settings: Settings, make_caller,  # type: ignore[no-untyped-def]
                                 new_org_id: str) -> None:
    environment = await _environment(client, admin)
    url = f"/api/environments/{environment['id']}/"
    key = await _key(client, admin, "dataset:read")
    assert key["value"].startswith("phx_") and key["scopes"] == ["dataset:read"]
    listed = (await client.get(f"/v1/{admin.org_id}/llm_analytics/api_keys/", headers=admin.headers)).json()
    assert [k["id"] for k in listed["api_keys"]] == [key["id"]] and "value" not in listed["api_keys"][0]
    database: MongoClient[dict[str, Any]] = MongoClient(settings.mongo_uri)
    try:
        stored = database[settings.infra_database_name]["llm_personal_api_keys"].find_one({"_id": key["id"]})
        assert stored is not None and key["value"] not in str(stored) and len(stored["secret_hash"]) == 64
    finally:
        database.close()
    assert (await client.get(url, headers=_bearer(key["value"]))).status_code == 200
    assert (await client.get(url, headers=_bearer("phx_not-a-key"))).status_code == 401

    stranger: Caller = await make_caller(f"{new_org_id}k")
    their_key = await _key(client, stranger, "*")
    assert (await client.get(url, headers=_bearer(their_key["value"]))).status_code == 403
    other_user: Caller = await make_caller(admin.org_id)
    assert (await client.delete(f"/v1/{admin.org_id}/llm_analytics/api_keys/{key['id']}",
                                headers=other_user.headers)).status_code == 404  # only your own
    assert (await client.delete(f"/v1/{admin.org_id}/llm_analytics/api_keys/{key['id']}",
                                headers=admin.headers)).status_code == 204
    assert (await client.get(url, headers=_bearer(key["value"]))).status_code == 401
    for bad in ({"label": "x", "scopes": []}, {"label": "x", "scopes": ["dataset:delete"]},
                {"label": "x", "scopes": [{"$ne": ""}]}):
        response = await client.post(f"/v1/{admin.org_id}/llm_analytics/api_keys/", headers=admin.headers, json=bad)
        assert response.status_code == 422, bad


async def test_created_by_is_posthogs_user_basic(app: Any, admin: Caller) -> None:
    org = await app.state.clusters.org_db(admin.org_id)
    basic = await user_basic(org, admin.user_id)
    assert basic is not None and basic.id == admin.user_id and basic == await user_basic(org, admin.user_id)
    assert str(uuid.UUID(basic.uuid)) == basic.uuid and "@" in basic.email
    assert await user_basic(org, "0" * 24) is None


def test_scopes() -> None:
    assert scopes_allow(["dataset:write"], "dataset:read") and scopes_allow(["*"], "evaluation:write")
    assert not scopes_allow(["dataset:read"], "dataset:write")
    assert not scopes_allow(["evaluation:write"], "dataset:read")


async def test_one_dependency_enforces_scopes_and_grants(settings: Settings, admin: Caller,
                                                         make_role_caller) -> None:  # type: ignore[no-untyped-def]
    probe_app = create_app(settings)  # its own app: the probe routes must not join the shared one
    for path, access in (("write_probe", environment_access("dataset:write")),
                         ("keyless_probe", environment_access("dataset:read", keys_allowed=False))):
        probe_app.router.add_api_route(f"/api/environments/{{environment_id}}/{path}/", _with(access), methods=["GET"])
    async with probe_app.router.lifespan_context(probe_app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=probe_app), base_url="http://testserver") as client:
        environment = await _environment(client, admin)
        base = f"/api/environments/{environment['id']}"
        reader = await _key(client, admin, "dataset:read")
        writer, everything = await _key(client, admin, "dataset:write"), await _key(client, admin, "*")
        refused = await client.get(f"{base}/write_probe/", headers=_bearer(reader["value"]))
        assert refused.status_code == 403
        assert refused.json()["detail"] == "API key missing required scope 'dataset:write'"
        for key in (writer, everything):
            assert (await client.get(f"{base}/write_probe/", headers=_bearer(key["value"]))).status_code == 200
        no_keys = await client.get(f"{base}/keyless_probe/", headers=_bearer(everything["value"]))
        assert no_keys.status_code == 403
        assert no_keys.json()["detail"] == "This action does not support Personal API Key access"
        assert (await client.get(f"{base}/keyless_probe/", headers=admin.headers)).status_code == 200

        # A key acts as its user: the scope is not enough without the user's grant.
        plain: Caller = await make_role_caller(admin, "NoLlm", [{"permission_name": "Tool:InvokeTool",
                                                                 "conditions": {}}])
        plain_key = await _key(client, plain, "*")
        denied = await client.get(f"{base}/write_probe/", headers=_bearer(plain_key["value"]))
        assert denied.status_code == 403 and denied.json()["code"] == "permission_denied"
        assert (await client.get(f"{base}/", headers=_bearer(plain_key["value"]))).status_code == 200


def _with(access: Any) -> Any:
    async def endpoint(caller: EnvironmentCaller = Depends(access)) -> dict[str, str]:  # noqa: B008
        return {"user": caller.principal.user_id}
    return endpoint


async def test_default_roles_of_existing_organizations_gain_added_permissions(admin: Caller,
                                                                              settings: Settings) -> None:
    database: MongoClient[dict[str, Any]] = MongoClient(settings.mongo_uri)
    roles = database[settings.database_name]["roles"]
    try:
        # The organization as it was before the LLM analytics permissions existed, with a custom role.
        roles.update_many({"org_id": admin.org_id}, {"$pull": {"permission_grants": {
            "permission_name": {"$in": list(ADDED_PERMISSIONS)}}}})
        roles.insert_one({"_id": f"custom{admin.org_id}", "org_id": admin.org_id, "name": "Custom",
                          "is_active": True, "permission_grants": [], "description": "", "frontend_view": "admin",
                          "expires_at": None})
        restarted = create_app(settings)  # the upgrade runs on start
        async with restarted.router.lifespan_context(restarted), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=restarted), base_url="http://testserver") as fresh:
            top = roles.find_one({"org_id": admin.org_id, "name": "DefaultSuperAdministratorRole", "is_active": True})
            assert top is not None and {g["permission_name"] for g in top["permission_grants"]} == set(PERMISSIONS)
            custom = roles.find_one({"_id": f"custom{admin.org_id}"})
            assert custom is not None and custom["permission_grants"] == []
            assert await roles_service.grant_added_permissions(restarted.state.clusters.database("default")) == 0
            # The top role still outranks every role: its holder may create one with every permission.
            created = await fresh.post(f"/v1/{admin.org_id}/role/", headers=admin.headers, json={
                "role_name": "Everything", "description": "All of it.", "frontend_view": "admin",
                "permission_grants": [{"permission_name": name, "conditions": {}} for name in PERMISSIONS]})
            assert created.status_code == 201, created.text
    finally:
        database.close()
