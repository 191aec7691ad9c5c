"""API keys and users: create, list, delete, invitations over SMTP, pagination, visibility."""

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from aiosmtpd.controller import Controller

from amigo_api.devstack import free_port
from tests.conftest import Caller


async def test_api_key_lifecycle_and_validation(client: httpx.AsyncClient, admin: Caller) -> None:
    url = f"/v1/{admin.org_id}/organization/api_key/"
    created = await client.post(url, headers=admin.headers, json={"name": None, "duration": "P30D"})
    assert created.status_code == 201, created.text
    assert set(created.json()) == {"api_key_id", "api_key", "expires_at"}
    listed = await client.get(url, headers=admin.headers)
    assert listed.status_code == 200
    keys = listed.json()["api_keys"]
    assert created.json()["api_key_id"] in {k["key_id"] for k in keys}
    assert all("secret_hash" not in k and "api_key" not in k for k in keys)
    assert set(keys[0]) == {"_id", "name", "org_id", "created_at", "updated_at", "key_id", "expires_at",
                            "creator", "role_id"}
    for duration, status in (("P91D", 400), ("PT1H", 400), ("P1M", 422), ("soon", 422)):
        response = await client.post(url, headers=admin.headers, json={"name": "x", "duration": duration})
        assert response.status_code == status, (duration, response.text)
        assert set(response.json()) >= {"detail", "error_code"}
    assert (await client.post(url, headers=admin.headers, json={"duration": "P1D"})).status_code == 422
    unknown_role = await client.post(url, headers=admin.headers,
                                     json={"name": "x", "duration": "P1D", "role_name": "Nope"})
    assert unknown_role.status_code == 404
    missing = await client.delete(f"{url}does-not-exist/", headers=admin.headers)
    assert missing.status_code == 404


async def test_at_most_twenty_api_keys(client: httpx.AsyncClient, admin: Caller, app: object) -> None:
    org = await app.state.clusters.org_db(admin.org_id)  # type: ignore[attr-defined]
    existing = await org.db["api_keys"].count_documents({"org_id": admin.org_id})
    template = await org.db["api_keys"].find_one({"org_id": admin.org_id})
    assert template is not None
    filler = [{**template, "_id": f"filler{i:018d}", "key_id": f"filler-{i}"} for i in range(20 - existing)]
    await org.db["api_keys"].insert_many(filler)
    response = await client.post(f"/v1/{admin.org_id}/organization/api_key/", headers=admin.headers,
                                 json={"name": "one too many", "duration": "P1D"})
    assert response.status_code == 400
    assert response.json()["error_code"] == "api_key_limit_reached"
    assert await org.db["api_keys"].count_documents({"org_id": admin.org_id}) == 20


async def test_an_administrator_cannot_mint_keys_for_its_own_role(client: httpx.AsyncClient, make_caller,
                                                                  new_org_id: str) -> None:
    admin: Caller = await make_caller(new_org_id, "DefaultAdministratorRole")
    url = f"/v1/{new_org_id}/organization/api_key/"
    same = await client.post(url, headers=admin.headers, json={"name": "x", "duration": "P1D"})
    assert same.status_code == 403
    lower = await client.post(url, headers=admin.headers,
                              json={"name": "x", "duration": "P1D", "role_name": "DefaultUserRole"})
    assert lower.status_code == 201
    user: Caller = await make_caller(new_org_id, "DefaultUserRole")
    assert (await client.post(url, headers=user.headers, json={"name": "x", "duration": "P1D",
                                                               "role_name": "DefaultUserRole"})).status_code == 403


class Inbox:
    def __init__(self) -> None:
        self.messages: list[str] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        self.messages.append(envelope.content.decode())  # type: ignore[attr-defined]
        return "250 OK"


@pytest.fixture
def smtp_inbox(app: object) -> Iterator[Inbox]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings = app.state.settings  # type: ignore[attr-defined]
    settings.smtp_host, settings.smtp_port = "127.0.0.1", port
    yield inbox
    settings.smtp_host = None
    controller.stop()


async def test_invitation_sends_the_login_link(client: httpx.AsyncClient, admin: Caller, smtp_inbox: Inbox) -> None:
    body = {"first_name": "Ada", "last_name": "Lovelace", "email": "Ada@Example.com", "role_name": "DefaultUserRole",
            "login_link": "https://demo.example.com/login?email=ada%40example.com",
            "sensitive_user_variables": {"api_token": "s3cret"}, "nonsensitive_user_variables": {"team": "core"}}
    response = await client.post(f"/v1/{admin.org_id}/user/", headers=admin.headers, json=body)
    assert response.status_code == 201, response.text
    assert response.json()["verify_link"] == body["login_link"]
    for _ in range(50):
        if smtp_inbox.messages:
            break
        await asyncio.sleep(0.05)
    assert "https://demo.example.com/login?email=ada%40example.com" in smtp_inbox.messages[0]
    assert "To: ada@example.com" in smtp_inbox.messages[0]
    users = (await client.get(f"/v1/{admin.org_id}/user/", headers=admin.headers,
                              params={"email": "ada@example.com"})).json()["users"]
    assert users[0]["sensitive_variables"] == ["api_token"] and users[0]["nonsensitive_variables"] == {"team": "core"}
    assert "s3cret" not in str(users)
    again = await client.post(f"/v1/{admin.org_id}/user/", headers=admin.headers, json=body)
    assert again.status_code == 409


async def test_invitation_refusals(client: httpx.AsyncClient, make_caller, new_org_id: str) -> None:
    admin: Caller = await make_caller(new_org_id, "DefaultAdministratorRole")
    url = f"/v1/{new_org_id}/user/"
    base = {"first_name": "A", "last_name": "B", "email": "x@example.com"}
    assert (await client.post(url, headers=admin.headers, json={**base, "role_name": "Nope"})).status_code == 404
    peer = await client.post(url, headers=admin.headers, json={**base, "role_name": "DefaultAdministratorRole"})
    assert peer.status_code == 403
    bad = await client.post(url, headers=admin.headers, json={**base, "email": "nope", "role_name": "DefaultUserRole"})
    assert bad.status_code == 422 and bad.json()["error_code"] == "validation_error"


async def test_users_paginate_sort_and_respect_grants(client: httpx.AsyncClient, admin: Caller) -> None:
    url = f"/v1/{admin.org_id}/user/"
    for name in ("carol", "alice", "bob"):
        response = await client.post(url, headers=admin.headers, json={
            "first_name": name, "last_name": "T", "email": f"{name}@example.com", "role_name": "DefaultUserRole"})
        assert response.status_code == 201
    first = (await client.get(url, headers=admin.headers, params={"limit": 2, "sort_by": "+email"})).json()
    assert first["has_more"] is True and first["continuation_token"] == 2
    emails = [u["email"] for u in first["users"]]
    rest = (await client.get(url, headers=admin.headers,
                             params={"limit": 2, "sort_by": "+email", "continuation_token": 2})).json()
    emails += [u["email"] for u in rest["users"]]
    while rest["has_more"]:
        rest = (await client.get(url, headers=admin.headers, params={
            "limit": 2, "sort_by": "+email", "continuation_token": rest["continuation_token"]})).json()
        emails += [u["email"] for u in rest["users"]]
    assert emails == sorted(emails) and {"alice@example.com", "bob@example.com"} <= set(emails)
    assert rest["continuation_token"] is None
    desc = (await client.get(url, headers=admin.headers, params={"sort_by": "-first_name"})).json()["users"]
    assert [u["first_name"] for u in desc] == sorted((u["first_name"] for u in desc), reverse=True)
    bad_sort = await client.get(url, headers=admin.headers, params={"sort_by": "+password"})
    assert bad_sort.status_code == 422
    # A role that may see only alice's record sees only it.
    role = await client.post(f"/v1/{admin.org_id}/role/", headers=admin.headers, json={
        "role_name": "AliceViewer", "description": "sees alice", "frontend_view": "client",
        "permission_grants": [{"permission_name": "User:GetUserInfo",
                               "conditions": {"email": {"type": "Equals", "value": "alice@example.com"}}}]})
    assert role.status_code == 201
    viewer = (await client.get(url, headers=admin.headers, params={"email": "bob@example.com"})).json()["users"][0]
    assigned = await client.post(f"/v1/{admin.org_id}/role/AliceViewer/assign", headers=admin.headers,
                                 json={"user_id": viewer["user_id"]})
    assert assigned.status_code == 200
    key = await client.post(f"/v1/{admin.org_id}/organization/api_key/", headers=admin.headers,
                            json={"name": "k", "duration": "P1D", "role_name": "DefaultAdministratorRole"})
    token = (await client.post(f"/v1/{admin.org_id}/user/signin_with_api_key", headers={
        "x-api-key": key.json()["api_key"], "x-api-key-id": key.json()["api_key_id"],
        "x-user-id": viewer["user_id"]})).json()["id_token"]
    seen = (await client.get(url, headers={"Authorization": f"Bearer {token}"})).json()["users"]
    assert [u["email"] for u in seen] == ["alice@example.com"]
