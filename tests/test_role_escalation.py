"""Privilege escalation through roles: operator values in conditions, roles above the caller, temporary grants
beyond the granter's role, demoting the last top-role holder, and concurrent role changes."""

import asyncio
from typing import Any

import httpx

from tests.builders import new_service
from tests.conftest import Caller

SUPER = "DefaultSuperAdministratorRole"
NOT_SECRET = {"tags": {"type": "NotEquals", "value": "team:secret"}}


def grant(name: str, **conditions: Any) -> dict[str, Any]:
    return {"permission_name": name, "conditions": conditions}


async def create_role(client: httpx.AsyncClient, caller: Caller, name: str, grants: list[dict[str, Any]]
                      ) -> httpx.Response:
    return await client.post(f"/v1/{caller.org_id}/role/", headers=caller.headers, json={
        "role_name": name, "description": "made by a test", "frontend_view": "client", "permission_grants": grants})


async def service_names(client: httpx.AsyncClient, caller: Caller) -> set[str]:
    response = await client.get(f"/v1/{caller.org_id}/service/", headers=caller.headers)
    assert response.status_code == 200, response.text
    return {s["name"] for s in response.json()["services"]}


async def test_operator_values_in_conditions_are_refused(client: httpx.AsyncClient, admin: Caller,
                                                         make_role_caller) -> None:
    await new_service(client, admin, "Secret", tags={"team": "secret"})
    await new_service(client, admin, "Open", tags={"team": "a"})
    scoped: Caller = await make_role_caller(admin, "Scoped", [
        grant("Role:CreateRole"), grant("Role:GetRole"), grant("Service:GetService", **NOT_SECRET)])
    assert await service_names(client, scoped) == {"Open"}
    injections = [
        {"tags": {"type": "Equals", "value": {"$ne": None}}},
        {"tags": {"type": "Equals", "value": {"$exists": True}}},
        {"tags": {"type": "NotEquals", "value": {"$where": "sleep(1000)"}}},
        {"tags": {"type": "In", "values": [{"$ne": None}]}},
        {"tags": {"type": "In", "values": {"$ne": None}}},
        {"is_active": {"type": "Equals", "value": 1}},
        {"$where": {"type": "Equals", "value": "x"}},
    ]
    for number, conditions in enumerate(injections):
        response = await create_role(client, scoped, f"Injected{number}", [grant("Service:GetService", **conditions)])
        assert response.status_code == 422, (conditions, response.text)
        assert response.json()["error_code"] == "validation_error"
    role_gt = await create_role(client, scoped, "AllRoles", [grant("Role:GetRole", role_name={
        "type": "Equals", "value": {"$gt": ""}})])
    assert role_gt.status_code == 422
    # A condition the caller's own condition does not contain: on tags, team:a does not fit inside
    # "not team:secret" (a service can carry both).
    wider = await create_role(client, scoped, "TeamA", [grant("Service:GetService", tags={
        "type": "Equals", "value": "team:a"})])
    assert wider.status_code == 403
    narrower = await create_role(client, scoped, "Narrower", [grant("Service:GetService", **NOT_SECRET,
                                                                    service_name={"type": "Equals", "value": "Open"})])
    assert narrower.status_code == 201, narrower.text
    assert await service_names(client, scoped) == {"Open"}


async def test_roles_above_the_caller_cannot_be_created_or_rewritten(client: httpx.AsyncClient, admin: Caller,
                                                                     make_caller) -> None:
    administrator: Caller = await make_caller(admin.org_id, "DefaultAdministratorRole")
    rewrite = await client.post(f"/v1/{admin.org_id}/role/{SUPER}", headers=administrator.headers,
                                json={"permission_grants": [grant("Role:GetRole")]})
    assert rewrite.status_code == 403, rewrite.text
    described = await client.post(f"/v1/{admin.org_id}/role/{SUPER}", headers=administrator.headers,
                                  json={"description": "mine now"})
    assert described.status_code == 403
    users = await client.get(f"/v1/{admin.org_id}/user/", headers=admin.headers)
    assert len(users.json()["users"]) >= 2
    above = await create_role(client, administrator, "Deleter", [grant("User:DeleteUser")])
    assert above.status_code == 403
    same = await create_role(client, administrator, "Peer", [grant("Role:CreateRole"), grant("Role:GetRole")])
    assert same.status_code == 201  # strictly below the administrator role
    assert (await client.post(f"/v1/{admin.org_id}/role/Peer", headers=administrator.headers,
                              json={"permission_grants": [grant("User:DeleteUser")]})).status_code == 403


async def test_temporary_grants_stay_within_the_granters_role(client: httpx.AsyncClient, admin: Caller,
                                                              make_caller) -> None:
    amigo_admin: Caller = await make_caller(admin.org_id, "DefaultAmigoAdministratorRole")
    member: Caller = await make_caller(admin.org_id, "DefaultUserRole")
    url = f"/v1/{admin.org_id}/role/temporary_permission_grant/"

    def body(permission: str, duration: str = "P1D") -> dict[str, Any]:
        return {"user_id": member.user_id, "permission_grant": grant(permission), "duration": duration,
                "justification": "on call this week", "tags": {}}

    beyond = await client.post(url, headers=amigo_admin.headers, json=body("Organization:DeleteOrganization"))
    assert beyond.status_code == 403 and beyond.json()["error_code"] == "grant_exceeds_role"
    within = await client.post(url, headers=amigo_admin.headers, json=body("User:DeleteUser"))
    assert within.status_code == 201, within.text
    too_long = await client.post(url, headers=amigo_admin.headers, json=body("User:DeleteUser", "P31D"))
    assert too_long.status_code == 400


async def test_the_last_top_role_holder_cannot_be_demoted(client: httpx.AsyncClient, admin: Caller) -> None:
    users = (await client.get(f"/v1/{admin.org_id}/user/", headers=admin.headers)).json()["users"]
    others = [u["user_id"] for u in users if u["user_id"] != admin.user_id]
    assign = f"/v1/{admin.org_id}/role/DefaultUserRole/assign"
    for user_id in others:  # the organization's provisioned super user
        assert (await client.post(assign, headers=admin.headers, json={"user_id": user_id})).status_code == 200
    self_demotion = await client.post(assign, headers=admin.headers, json={"user_id": admin.user_id})
    assert self_demotion.status_code == 409 and self_demotion.json()["error_code"] == "last_top_role_holder"
    shrink = await client.post(f"/v1/{admin.org_id}/role/{SUPER}", headers=admin.headers,
                               json={"permission_grants": [grant("Role:GetRole")]})
    assert shrink.status_code == 409
    assert len((await client.get(f"/v1/{admin.org_id}/user/", headers=admin.headers)).json()["users"]) == len(users)


async def test_concurrent_role_changes_answer_200_or_409(client: httpx.AsyncClient, admin: Caller) -> None:
    assert (await create_role(client, admin, "Busy", [grant("Role:GetRole")])).status_code == 201
    extra = ["User:GetUserInfo", "Service:GetService", "Admin:GetModels", "Tool:AccessRepo", "Role:CreateRole",
             "Organization:GetAPIKey"]
    responses = await asyncio.gather(*[
        client.post(f"/v1/{admin.org_id}/role/Busy", headers=admin.headers,
                    json={"permission_grants": [grant("Role:GetRole"), grant(name)]}) for name in extra])
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 409}, [r.text for r in responses]
    assert 200 in statuses
    roles = (await client.get(f"/v1/{admin.org_id}/role/", headers=admin.headers, params={"name": "Busy"})).json()
    assert len(roles["roles"]) == 1
