"""Roles (create, get, modify, assign) and temporary permission grants."""

import asyncio

import httpx

from tests.conftest import Caller

GET_USERS = {"permission_name": "User:GetUserInfo", "conditions": {}}


async def test_create_and_get_roles(client: httpx.AsyncClient, admin: Caller) -> None:
    url = f"/v1/{admin.org_id}/role/"
    body = {"role_name": "Auditor", "description": "reads users", "frontend_view": "admin",
            "permission_grants": [GET_USERS]}
    created = await client.post(url, headers=admin.headers, json=body)
    assert created.status_code == 201
    assert (await client.post(url, headers=admin.headers, json=body)).status_code == 409
    unknown = await client.post(url, headers=admin.headers, json={**body, "role_name": "X", "permission_grants": [
        {"permission_name": "Nope:Nothing", "conditions": {}}]})
    assert unknown.status_code == 400
    bad_condition = await client.post(url, headers=admin.headers, json={**body, "role_name": "Y", "permission_grants": [
        {"permission_name": "User:GetUserInfo", "conditions": {"email": {"type": "Like", "value": "a"}}}]})
    assert bad_condition.status_code == 422
    roles = (await client.get(url, headers=admin.headers, params={"name": "Auditor",
                                                                  "return_permission_grants": True})).json()["roles"]
    assert roles == [{"id": created.json()["role_id"], "name": "Auditor", "description": "reads users",
                      "frontend_view": "admin", "permission_grants": [GET_USERS]}]
    all_roles = (await client.get(url, headers=admin.headers)).json()["roles"]
    assert {"DefaultUserRole", "DefaultSuperAdministratorRole", "Auditor"} <= {r["name"] for r in all_roles}
    assert all(r["permission_grants"] == [] for r in all_roles)


async def test_modify_role_in_place_or_as_a_new_document(client: httpx.AsyncClient, admin: Caller,
                                                         make_caller) -> None:
    url = f"/v1/{admin.org_id}/role/"
    role_id = (await client.post(url, headers=admin.headers, json={
        "role_name": "Reader", "description": "v1", "frontend_view": "client",
        "permission_grants": [GET_USERS]})).json()["role_id"]
    member: Caller = await make_caller(admin.org_id, "DefaultUserRole")
    assert (await client.post(f"{url}Reader/assign", headers=admin.headers,
                              json={"user_id": member.user_id})).json() == {"role_id": role_id}
    in_place = await client.post(f"{url}Reader", headers=admin.headers, json={"description": "v2"})
    assert in_place.json() == {"role_id": role_id}
    changed = await client.post(f"{url}Reader", headers=admin.headers, json={"permission_grants": [
        GET_USERS, {"permission_name": "Role:GetRole", "conditions": {}}]})
    assert changed.status_code == 200
    new_id = changed.json()["role_id"]
    assert new_id != role_id
    roles = (await client.get(url, headers=admin.headers, params={"name": "Reader"})).json()["roles"]
    assert [(r["id"], r["description"]) for r in roles] == [(new_id, "v2")]
    users = (await client.get(f"/v1/{admin.org_id}/user/", headers=admin.headers,
                              params={"user_id": member.user_id})).json()["users"]
    assert users[0]["role"] == new_id
    # The member now holds Role:GetRole through the new document.
    assert (await client.get(url, headers=member.headers)).status_code == 200
    assert (await client.post(f"{url}Missing", headers=admin.headers, json={"description": "x"})).status_code == 404


async def test_assign_role_needs_greater_privileges(client: httpx.AsyncClient, make_caller, new_org_id: str) -> None:
    admin: Caller = await make_caller(new_org_id, "DefaultAdministratorRole")
    user: Caller = await make_caller(new_org_id, "DefaultUserRole")
    url = f"/v1/{new_org_id}/role/"
    promote = await client.post(f"{url}DefaultAdministratorRole/assign", headers=admin.headers,
                                json={"user_id": user.user_id})
    assert promote.status_code == 403
    assert (await client.post(f"{url}DefaultUserRole/assign", headers=admin.headers,
                              json={"user_id": "000000000000000000000000"})).status_code == 404
    assert (await client.post(f"{url}Nope/assign", headers=admin.headers,
                              json={"user_id": user.user_id})).status_code == 404
    self_promote = await client.post(f"{url}DefaultSuperAdministratorRole/assign", headers=admin.headers,
                                     json={"user_id": admin.user_id})
    assert self_promote.status_code == 403


async def test_temporary_grants_apply_until_they_expire(client: httpx.AsyncClient, make_caller,
                                                        new_org_id: str) -> None:
    owner: Caller = await make_caller(new_org_id)
    user: Caller = await make_caller(new_org_id, "DefaultUserRole")
    users_url = f"/v1/{new_org_id}/user/"
    assert (await client.get(users_url, headers=user.headers)).json()["users"] == []
    url = f"/v1/{new_org_id}/role/temporary_permission_grant/"
    grant = {"user_id": user.user_id, "duration": "PT2S", "permission_grant": GET_USERS,
             "tags": {"ticket": "INC 42", "urgent": None}, "justification": "Investigating an incident."}
    created = await client.post(url, headers=owner.headers, json=grant)
    assert created.status_code == 201, created.text
    assert len((await client.get(users_url, headers=user.headers)).json()["users"]) >= 2
    listed = await client.get(f"/v1/{new_org_id}/role/temporary_permission_grants/", headers=owner.headers,
                              params={"tag": ["ticket:*", "urgent:"], "is_expired": False})
    grants = listed.json()["temporary_permission_grants"]
    assert [g["_id"] for g in grants] == [created.json()["temporary_permission_grant_id"]]
    assert grants[0]["tags"] == {"ticket": "INC 42", "urgent": None}
    assert grants[0]["creator"] == {"org_id": new_org_id, "user_id": owner.user_id}
    none = await client.get(f"/v1/{new_org_id}/role/temporary_permission_grants/", headers=owner.headers,
                            params={"tag": "ticket:other"})
    assert none.json()["temporary_permission_grants"] == []
    await asyncio.sleep(2.5)
    assert (await client.get(users_url, headers=user.headers)).json()["users"] == []
    expired = await client.get(f"/v1/{new_org_id}/role/temporary_permission_grants/", headers=owner.headers,
                               params={"is_expired": True})
    assert len(expired.json()["temporary_permission_grants"]) == 1
    missing_user = await client.post(url, headers=owner.headers, json={**grant, "user_id": "0" * 24})
    assert missing_user.status_code == 404
    short = await client.post(url, headers=owner.headers, json={**grant, "justification": "too short"})
    assert short.status_code == 422
    forbidden = await client.post(url, headers=user.headers, json=grant)
    assert forbidden.status_code == 403
