"""Every wait has a bound: MongoDB operations, `git http-backend`, and how deep commit history pages go."""

import socket
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI
from pymongo.errors import ExecutionTimeout

from amigo_api.app import create_app
from amigo_api.settings import Settings
from tests.conftest import Caller, make_settings
from tests.live import live_api


async def test_mongodb_operations_have_a_time_limit_and_a_timeout_answers_503(mongo_server: str, secret_key: str,
                                                                              app: FastAPI) -> None:
    assert app.state.clusters.client("default").options.timeout == 30.0
    bounded = create_app(make_settings(mongo_server, secret_key, mongo_timeout_ms=1500))

    @bounded.get("/probe-timeout")
    async def probe() -> None:
        raise ExecutionTimeout("operation exceeded time limit", 50, {"ok": 0, "errmsg": "timeout", "code": 50})

    async with bounded.router.lifespan_context(bounded), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=bounded), base_url="http://t") as http:
        assert bounded.state.clusters.client("default").options.timeout == 1.5
        response = await http.get("/probe-timeout")
        assert response.status_code == 503 and response.json()["error_code"] == "database_timeout"


def test_a_git_backend_past_its_time_limit_is_stopped(settings: Settings, admin: Caller, tmp_path: Path) -> None:
    """A client that starts a fetch and never finishes its request: the backend is killed at its time limit and
    the answer ends, instead of holding a process and a connection for as long as the client likes."""
    with live_api(settings, tmp_path, "api-git-timeout", AMIGO_GIT_TIMEOUT_SECONDS="0.5") as url:
        parts = urlsplit(url)
        with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
            head = (f"POST /v1/{admin.org_id}/tool/git/git-upload-pack HTTP/1.1\r\nHost: localhost\r\n"
                    f"Authorization: Bearer {admin.token}\r\nGit-Protocol: version=2\r\n"
                    "Content-Type: application/x-git-upload-pack-request\r\nTransfer-Encoding: chunked\r\n"
                    "Connection: close\r\n\r\n")
            sock.sendall(head.encode() + b"14\r\n0014command=ls-refs\n\r\n")
            answer = b""
            while chunk := sock.recv(65536):  # times out (the test fails) while the backend lives
                answer += chunk
    assert answer.split(b" ", 2)[1] in (b"200", b"504")


async def test_commit_history_pages_have_a_depth_limit(client: httpx.AsyncClient, admin: Caller) -> None:
    url = f"/v1/{admin.org_id}/tool/repo/commits"
    deep = await client.get(url, headers=admin.headers, params={"continuation_token": 1_000_000})
    assert deep.status_code == 400 and deep.json()["error_code"] == "history_too_deep"
    edge = await client.get(url, headers=admin.headers, params={"continuation_token": 500, "limit": 20})
    assert edge.status_code in (200, 404)  # 10,000 commits deep is still a page (this repository has none)
