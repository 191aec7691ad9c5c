"""Update, delete and the user model: permissions, ranks, other organizations' ids, and bad input."""

import uuid

import httpx

from tests.conftest import Caller


def _user_url(caller: Caller, user_id: str, suffix: str = "") -> str:
    return f"/v1/{caller.org_id}/user/{user_id}{suffix}"


async def _user(client: httpx.AsyncClient, caller: Caller, user_id: str) -> dict[str, object]:
    users = (await client.get(f"/v1/{caller.org_id}/user/", headers=caller.headers,
                              params={"user_id": user_id})).json()["users"]
    return dict(users[0]) if users else {}


async def test_update_user_changes_only_what_is_sent(client: httpx.AsyncClient, admin: Caller, make_caller) -> None:  # type: ignore[no-untyped-def]
    member: Caller = await make_caller(admin.org_id, "DefaultUserRole")
    url = _user_url(admin, member.user_id)
    changed = await client.post(url, headers=admin.headers, json={
        "last_name": "Lovelace", "timezone": "Europe/London", "user_model_visible_to_admins": False})
    assert changed.status_code == 204 and changed.content == b""
    user = await _user(client, admin, member.user_id)
    assert user["last_name"] == "Lovelace" and user["enable_actions_access"] is False
    assert user["preferences"]["timezone"] == "Europe/London"  # type: ignore[index]
    kept = await client.post(url, headers=admin.headers, json={"first_name": None, "timezone": {}})
    assert kept.status_code == 204
    assert (await _user(client, admin, member.user_id))["preferences"]["timezone"] == "Europe/London"  # type: ignore[index]
    erased = await client.post(url, headers=admin.headers, json={"timezone": None})
    assert erased.status_code == 204
    assert (await _user(client, admin, member.user_id))["preferences"]["timezone"] is None  # type: ignore[index]
    for bad in ({"first_name": {"$ne": None}}, {"first_name": "x" * 300}, {"timezone": "Mars/Olympus"},
                {"preferred_language": {"$gt": ""}}, {"additional_context": ["ok"] * 101}):
        assert (await client.post(url, headers=admin.headers, json=bad)).status_code == 422, bad
    # The member hid their user model; an administrator may not read it, the member may not either without
    # the permission.
    hidden = await client.get(_user_url(admin, member.user_id, "/user_model"), headers=admin.headers)
    assert hidden.status_code == 403 and hidden.json()["error_code"] == "user_model_hidden"
    assert (await client.get(_user_url(admin, member.user_id, "/user_model"),
                             headers=member.headers)).status_code == 403
    assert (await client.post(url, headers=member.headers, json={"first_name": "Me"})).status_code == 403


async def test_delete_user_respects_ranks_and_keeps_a_top_role_holder(client: httpx.AsyncClient, admin: Caller,
                                                                      make_caller) -> None:  # type: ignore[no-untyped-def]
    amigo_admin: Caller = await make_caller(admin.org_id, "DefaultAmigoAdministratorRole")
    member: Caller = await make_caller(admin.org_id, "DefaultUserRole")
    above = await client.delete(_user_url(admin, admin.user_id), headers=amigo_admin.headers)
    assert above.status_code == 403
    assert (await client.delete(_user_url(admin, member.user_id), headers=member.headers)).status_code == 403
    gone = await client.delete(_user_url(admin, member.user_id), headers=amigo_admin.headers)
    assert gone.status_code == 204
    assert (await client.get(f"/v1/{admin.org_id}/user/", headers=member.headers)).status_code == 401
    assert (await client.delete(_user_url(admin, member.user_id), headers=admin.headers)).status_code == 404
    users = (await client.get(f"/v1/{admin.org_id}/user/", headers=admin.headers)).json()["users"]
    for user in users:
        if user["user_id"] not in (admin.user_id, amigo_admin.user_id):
            assert (await client.delete(_user_url(admin, user["user_id"]), headers=admin.headers)).status_code == 204
    last = await client.delete(_user_url(admin, admin.user_id), headers=admin.headers)
    assert last.status_code == 409 and last.json()["error_code"] == "last_top_role_holder"


async def test_user_endpoints_stay_in_their_organization(client: httpx.AsyncClient, admin: Caller,
                                                         make_caller) -> None:  # type: ignore[no-untyped-def]
    other: Caller = await make_caller(f"other{uuid.uuid4().hex[:12]}")
    for method, suffix in (("POST", ""), ("DELETE", ""), ("GET", "/user_model")):
        foreign = await client.request(method, _user_url(admin, other.user_id, suffix), headers=admin.headers,
                                       json={"first_name": "X"} if method == "POST" else None)
        assert foreign.status_code == 404, (method, suffix)
        cross_token = await client.request(method, _user_url(admin, admin.user_id, suffix), headers=other.headers,
                                           json={"first_name": "X"} if method == "POST" else None)
        assert cross_token.status_code == 401
        unknown = await client.request(method, _user_url(admin, "not-an-id", suffix), headers=admin.headers,
                                       json={"first_name": "X"} if method == "POST" else None)
        assert unknown.status_code == 404, (method, suffix)
