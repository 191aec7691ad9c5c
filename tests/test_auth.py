"""Sign-in with API keys, bearer and basic credentials, and refused tokens."""

import asyncio
import base64
import json
import time
from datetime import timedelta
from pathlib import Path

import httpx
import jwt

from amigo_api.core.clock import utcnow
from amigo_api.core.security import TokenService
from amigo_api.settings import Settings
from tests.conftest import Caller
from tests.live import live_api


def signin_headers(caller: Caller, **overrides: str) -> dict[str, str]:
    headers = {"x-api-key": caller.api_key, "x-api-key-id": caller.api_key_id, "x-user-id": caller.user_id}
    headers.update(overrides)
    return headers


async def test_sign_in_returns_a_token_that_authenticates(client: httpx.AsyncClient, admin: Caller) -> None:
    response = await client.post(f"/v1/{admin.org_id}/user/signin_with_api_key", headers=signin_headers(admin))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"id_token", "expires_at"}
    users = await client.get(f"/v1/{admin.org_id}/user/", headers={"Authorization": f"Bearer {body['id_token']}"})
    assert users.status_code == 200


async def test_basic_auth_needs_the_matching_username(client: httpx.AsyncClient, admin: Caller) -> None:
    good = httpx.BasicAuth(f"{admin.org_id}_{admin.user_id}", admin.token)
    assert (await client.get(f"/v1/{admin.org_id}/user/", auth=good)).status_code == 200
    wrong = httpx.BasicAuth(f"{admin.org_id}_000000000000000000000000", admin.token)
    response = await client.get(f"/v1/{admin.org_id}/user/", auth=wrong)
    assert response.status_code == 401
    assert response.json()["error_code"] == "invalid_credentials"


async def test_sign_in_refusals(client: httpx.AsyncClient, admin: Caller, app: object) -> None:
    url = f"/v1/{admin.org_id}/user/signin_with_api_key"
    cases = [
        signin_headers(admin, **{"x-api-key": "wrong"}),
        signin_headers(admin, **{"x-api-key-id": "00000000-0000-0000-0000-000000000000"}),
        signin_headers(admin, **{"x-user-id": "000000000000000000000000"}),
    ]
    for headers in cases:
        response = await client.post(url, headers=headers)
        assert response.status_code == 401, response.text
    missing = await client.post("/v1/no-such-org-xyz/user/signin_with_api_key", headers=signin_headers(admin))
    assert missing.status_code == 404


async def test_expired_and_deleted_keys_are_refused(client: httpx.AsyncClient, make_caller, new_org_id: str,
                                                    app: object) -> None:
    admin: Caller = await make_caller(new_org_id)
    other: Caller = await make_caller(new_org_id)
    org = await app.state.clusters.org_db(new_org_id)  # type: ignore[attr-defined]
    await org.db["api_keys"].update_one({"key_id": other.api_key_id},
                                        {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}})
    url = f"/v1/{new_org_id}/user/signin_with_api_key"
    assert (await client.post(url, headers=signin_headers(other))).status_code == 401
    deleted = await client.delete(f"/v1/{new_org_id}/organization/api_key/{admin.api_key_id}/", headers=admin.headers)
    assert deleted.status_code == 200
    assert deleted.json() == {"deleted_key_id": admin.api_key_id}
    assert (await client.post(url, headers=signin_headers(admin))).status_code == 401


async def test_a_key_cannot_sign_in_a_user_above_its_role(client: httpx.AsyncClient, make_caller,
                                                          new_org_id: str) -> None:
    owner: Caller = await make_caller(new_org_id)
    amigo_admin: Caller = await make_caller(new_org_id, "DefaultAmigoAdministratorRole")
    key = await client.post(f"/v1/{new_org_id}/organization/api_key/", headers=owner.headers,
                            json={"name": "admins", "duration": "P7D", "role_name": "DefaultAdministratorRole"})
    assert key.status_code == 201, key.text
    body = key.json()
    url = f"/v1/{new_org_id}/user/signin_with_api_key"
    headers = {"x-api-key": body["api_key"], "x-api-key-id": body["api_key_id"], "x-user-id": amigo_admin.user_id}
    assert (await client.post(url, headers=headers)).status_code == 401
    user_role: Caller = await make_caller(new_org_id, "DefaultUserRole")
    headers["x-user-id"] = user_role.user_id
    assert (await client.post(url, headers=headers)).status_code == 200


def _forge(token: str, **claims: object) -> str:
    header, payload, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=="))
    data.update(claims)
    encoded = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{header}.{encoded}.{signature}"


async def test_forged_expired_and_unsigned_tokens_are_refused(client: httpx.AsyncClient, admin: Caller,
                                                              app: object) -> None:
    url = f"/v1/{admin.org_id}/user/"
    tokens: TokenService = app.state.tokens  # type: ignore[attr-defined]
    key = tokens._active()
    assert key is not None and key.private_key is not None
    now = int(utcnow().timestamp())
    expired = jwt.encode({"iss": "amigo-api", "sub": admin.user_id, "org_id": admin.org_id, "iat": now - 7200,
                          "exp": now - 3600}, key.private_key, algorithm="ES256", headers={"kid": key.kid})
    unsigned = jwt.encode({"iss": "amigo-api", "sub": admin.user_id, "org_id": admin.org_id, "iat": now,
                           "exp": now + 3600}, None, algorithm="none", headers={"kid": key.kid})
    hmac_forged = jwt.encode({"iss": "amigo-api", "sub": admin.user_id, "org_id": admin.org_id, "iat": now,
                              "exp": now + 3600}, "a-guessed-secret-of-thirty-two-bytes!", algorithm="HS256",
                             headers={"kid": key.kid})
    for token in (_forge(admin.token, sub="000000000000000000000000"), expired, unsigned, hmac_forged,
                  "not-a-jwt", admin.token[:-4] + "AAAA"):
        response = await client.get(url, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token
        assert "WWW-Authenticate" in response.headers
    assert (await client.get(url)).status_code == 401


async def test_a_token_is_only_good_for_its_own_org(client: httpx.AsyncClient, make_caller) -> None:
    a: Caller = await make_caller("orgtoken-a")
    b: Caller = await make_caller("orgtoken-b")
    assert (await client.get(f"/v1/{b.org_id}/user/", headers=a.headers)).status_code == 401
    cross = await client.get(f"/v1/{b.org_id}/user/", headers={**a.headers, "X-ORG-ID": a.org_id})
    assert cross.status_code == 403
    assert cross.json()["error_code"] == "no_role_in_org"


async def test_tokens_verify_on_another_replica_and_survive_rotation(settings, admin: Caller, app: object) -> None:
    replica = TokenService(settings, app.state.clusters.infra)  # type: ignore[attr-defined]
    await replica.start()
    claims = await replica.verify(admin.token)
    assert (claims.org_id, claims.user_id) == (admin.org_id, admin.user_id)
    old_kid = jwt.get_unverified_header(admin.token)["kid"]
    await replica.rotate()
    new_token, _ = replica.issue(admin.org_id, admin.user_id, admin.api_key_id)
    assert jwt.get_unverified_header(new_token)["kid"] != old_kid
    primary: TokenService = app.state.tokens  # type: ignore[attr-defined]
    primary._last_reload = 0.0  # the unknown kid triggers a reload at once
    assert (await primary.verify(new_token)).user_id == admin.user_id
    assert (await primary.verify(admin.token)).user_id == admin.user_id  # retired key still verifies
    kids = {k["kid"] for k in primary.jwks()["keys"]}
    assert {old_kid, jwt.get_unverified_header(new_token)["kid"]} <= kids


async def _refused_within(http: httpx.AsyncClient, url: str, caller: Caller, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        response = await http.get(url, headers=caller.headers)
        if response.status_code == 401:
            return True
        assert response.status_code == 200, response.text
        await asyncio.sleep(0.2)
    return False


async def test_tokens_stop_working_on_every_process_once_their_key_is_gone(
        client: httpx.AsyncClient, make_caller, new_org_id: str, app: object, settings: Settings,
        tmp_path: Path) -> None:
    admin: Caller = await make_caller(new_org_id)
    deleted_key: Caller = await make_caller(new_org_id)
    expired_key: Caller = await make_caller(new_org_id)
    users = f"/v1/{new_org_id}/user/"
    with live_api(settings, tmp_path, "api-revocation") as url:
        async with httpx.AsyncClient(base_url=url) as replica:
            for caller in (deleted_key, expired_key):  # cached as valid on both processes
                assert (await replica.get(users, headers=caller.headers)).status_code == 200
                assert (await client.get(users, headers=caller.headers)).status_code == 200
            gone = await client.delete(f"/v1/{new_org_id}/organization/api_key/{deleted_key.api_key_id}/",
                                       headers=admin.headers)
            assert gone.status_code == 200
            refused = await client.get(users, headers=deleted_key.headers)
            assert refused.status_code == 401 and refused.json()["error_code"] == "api_key_revoked"
            org = await app.state.clusters.org_db(new_org_id)  # type: ignore[attr-defined]
            await org.db["api_keys"].update_one({"key_id": expired_key.api_key_id},
                                                {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}})
            window = settings.principal_cache_seconds + 5
            assert await _refused_within(replica, users, deleted_key, window)
            assert await _refused_within(replica, users, expired_key, window)
            assert await _refused_within(client, users, expired_key, window)
            assert (await replica.get(users, headers=admin.headers)).status_code == 200


async def test_errors_a_newcomer_meets_say_what_to_do(client: httpx.AsyncClient, admin: Caller) -> None:
    unknown_org = await client.get("/v1/nosuchorg/user/", headers=admin.headers)
    assert unknown_org.status_code == 404 and unknown_org.json()["error_code"] == "organization_not_found"
    missing = await client.get(f"/v1/{admin.org_id}/user/")
    assert missing.status_code == 401 and missing.json()["error_code"] == "missing_credentials"
    assert "signin_with_api_key" in missing.json()["detail"]
    malformed = await client.post(f"/v1/{admin.org_id}/role/", headers={**admin.headers,
                                  "Content-Type": "application/json"}, content=b'{"role_name": "x",, }')
    assert malformed.status_code == 422
    assert malformed.json()["detail"].startswith("Malformed JSON body at character 18"), malformed.json()
    as_bearer = await client.get(f"/v1/{admin.org_id}/user/", headers={"Authorization": f"Bearer {admin.api_key}"})
    assert as_bearer.status_code == 401 and as_bearer.json()["error_code"] == "invalid_credentials"
    assert as_bearer.json()["detail"].startswith("Invalid authorization credentials. The Bearer value is not a token")
    assert "signin_with_api_key" in as_bearer.json()["detail"] and admin.api_key not in as_bearer.text
    other_key = jwt.encode({"sub": admin.user_id}, "not-our-key-" * 4, algorithm="HS256")
    forged = await client.get(f"/v1/{admin.org_id}/user/", headers={"Authorization": f"Bearer {other_key}"})
    assert forged.json()["detail"] == "Invalid authorization credentials."  # a token, just not a valid one
    form = await client.post(f"/v1/{admin.org_id}/role/", headers=admin.headers, data={"role_name": "x"})
    assert form.status_code == 422
    assert form.json()["detail"].endswith(" Send the body as JSON with `Content-Type: application/json` (this "
                                          "request's is `application/x-www-form-urlencoded`)."), form.json()
    wrong_field = await client.post(f"/v1/{admin.org_id}/role/", headers=admin.headers, json={"role_name": 5})
    assert "Content-Type" not in wrong_field.json()["detail"]
