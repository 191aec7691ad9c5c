"""Bodies are bounded while they stream, and missing or invalid credentials are refused before any body is read:
a client that announces a large body and sends only its first bytes gets its answer before it sends the rest."""

from collections.abc import Iterator

import httpx
import pytest

from amigo_api.settings import Settings
from tests.conftest import Caller
from tests.live import live_api, status_after_partial_body

FIFTY_MB = 50 * 1024 * 1024


@pytest.fixture(scope="module")
def live_url(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with live_api(settings, tmp_path_factory.mktemp("guard"), "api-guard") as url:
        yield url


def test_missing_or_invalid_credentials_are_refused_before_the_body(live_url: str, admin: Caller) -> None:
    path = f"/v1/{admin.org_id}/service/"
    announced = {"Content-Length": str(FIFTY_MB)}
    assert status_after_partial_body(live_url, path, announced, b'{"name": "') == 401
    forged = {**announced, "Authorization": f"Bearer {admin.token[:-4]}AAAA"}
    assert status_after_partial_body(live_url, path, forged, b'{"name": "') == 401
    chunked = {"Transfer-Encoding": "chunked"}
    assert status_after_partial_body(live_url, path, chunked, b"5\r\n{\"a\":\r\n") == 401


def test_oversized_bodies_are_refused_while_they_stream(live_url: str, admin: Caller) -> None:
    path = f"/v1/{admin.org_id}/service/"
    auth = {"Authorization": f"Bearer {admin.token}"}
    assert status_after_partial_body(live_url, path, {**auth, "Content-Length": str(FIFTY_MB)}, b"{") == 413
    chunk = b"x" * (1024 * 1024)
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(3))  # 3 MiB, no final chunk
    assert status_after_partial_body(live_url, path, {**auth, "Transfer-Encoding": "chunked"}, chunks) == 413
    response = httpx.post(f"{live_url}{path}", headers=auth, content=b"{" + b" " * (3 * 1024 * 1024) + b"}")
    assert response.status_code == 413 and response.json()["error_code"] == "request_too_large"


def test_small_bodies_and_declared_larger_limits_pass(live_url: str, admin: Caller) -> None:
    auth = {"Authorization": f"Bearer {admin.token}"}
    small = httpx.post(f"{live_url}/v1/{admin.org_id}/service/", headers=auth, json={"name": "x"})
    assert small.status_code == 422  # reached validation
    prompt_log = {"log_key": "guard/large", "system_prompt": "S" * (4 * 1024 * 1024), "history_prompts": []}
    written = httpx.post(f"{live_url}/v1/{admin.org_id}/admin/prompt_logs/", headers=auth, json=prompt_log,
                         timeout=30)
    assert written.status_code == 201, written.text


def test_the_limit_is_documented_on_routes_that_raise_it(live_url: str) -> None:
    spec = httpx.get(f"{live_url}/openapi.json").json()
    operation = spec["paths"]["/v1/{organization}/admin/prompt_logs/"]["post"]
    assert operation["x-max-body-bytes"] == 32 * 1024 * 1024


def test_anonymous_routes_are_not_asked_for_credentials(live_url: str, admin: Caller) -> None:
    signin = httpx.post(f"{live_url}/v1/{admin.org_id}/user/signin_with_api_key", headers={
        "x-api-key": admin.api_key, "x-api-key-id": admin.api_key_id, "x-user-id": admin.user_id})
    assert signin.status_code == 200
    assert httpx.get(f"{live_url}/v1/{admin.org_id}/organization/").status_code == 200
