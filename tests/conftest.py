"""Shared fixtures: one real embedded MongoDB-wire server per session, the app on it, and helpers that
make organizations and signed-in users."""

import os
import secrets
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from pymongo import MongoClient

from amigo_api.app import create_app
from amigo_api.bootstrap import bootstrap
from amigo_api.devstack import start_mongo
from amigo_api.settings import Settings

pytest_plugins = ["tests.toolstack"]

# Every run works in databases of its own, named here so that API processes and commands the tests start (which
# inherit the environment) use them too; they are dropped at the end. `AMIGO_TEST_MONGO_URI` points the suite at
# an external server (a MongoDB replica set) instead of the embedded one.
RUN_ID = uuid.uuid4().hex[:10]
TEST_DATABASES = {"AMIGO_DATABASE_NAME": f"amigo_test_{RUN_ID}",
                  "AMIGO_INFRA_DATABASE_NAME": f"amigo_infra_test_{RUN_ID}"}
os.environ.update(TEST_DATABASES)


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("AMIGO_TEST_MONGO_URI")
    if external:
        yield external
        _drop_test_databases(external)
        return
    child, uri = start_mongo(tmp_path_factory.mktemp("mongo"))
    yield uri
    child.stop()


def _drop_test_databases(uri: str) -> None:
    client: MongoClient[dict[str, object]] = MongoClient(uri)
    try:
        for name in client.list_database_names():
            if name.endswith(RUN_ID):
                client.drop_database(name)
    finally:
        client.close()


@pytest.fixture(scope="session")
def secret_key() -> str:
    return secrets.token_urlsafe(48)


def make_settings(mongo_uri: str, secret_key: str, **overrides: object) -> Settings:
    values: dict[str, object] = {"mongo_uri": mongo_uri, "secret_key": secret_key, "log_json": True,
                                 "log_level": "WARNING", "maintenance_poll_seconds": 0.5,
                                 "rate_limit_scale": 10.0, "git_root": tempfile.mkdtemp(prefix="amigo-git-"),
                                 "blob_root": tempfile.mkdtemp(prefix="amigo-blobs-")}
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def settings(mongo_server: str, secret_key: str) -> Settings:
    return make_settings(mongo_server, secret_key)


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[object]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
async def client(app: object) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@dataclass
class Caller:
    org_id: str
    user_id: str
    api_key_id: str
    api_key: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def sign_in(client: httpx.AsyncClient, org_id: str, creds: dict[str, str]) -> str:
    response = await client.post(f"/v1/{org_id}/user/signin_with_api_key", headers={
        "x-api-key": creds["api_key"], "x-api-key-id": creds["api_key_id"], "x-user-id": creds["user_id"]})
    assert response.status_code == 200, response.text
    return str(response.json()["id_token"])


@pytest.fixture
def new_org_id() -> str:
    return f"org{uuid.uuid4().hex[:12]}"


@pytest.fixture
def make_caller(client: httpx.AsyncClient, settings: Settings):  # type: ignore[no-untyped-def]
    """`await make_caller(org_id, role)`: a user with that role in the org (created if missing), signed in."""

    async def make(org_id: str, role: str = "DefaultSuperAdministratorRole", email: str | None = None) -> Caller:
        creds = await bootstrap(settings, org_id, email or f"{uuid.uuid4().hex[:10]}@example.com", role)
        return Caller(org_id, creds["user_id"], creds["api_key_id"], creds["api_key"],
                      await sign_in(client, org_id, creds))

    return make


@pytest.fixture
async def admin(make_caller, new_org_id: str) -> Caller:  # type: ignore[no-untyped-def]
    caller: Caller = await make_caller(new_org_id)
    return caller



@pytest.fixture
def make_role_caller(client: httpx.AsyncClient, make_caller):  # type: ignore[no-untyped-def]
    """`await make_role_caller(admin, role_name, grants)`: a new role with these grants, and a user holding it."""

    async def make(admin: Caller, role_name: str, grants: list[dict[str, object]]) -> Caller:
        created = await client.post(f"/v1/{admin.org_id}/role/", headers=admin.headers, json={
            "role_name": role_name, "description": "A role made by a test.", "frontend_view": "client",
            "permission_grants": grants})
        assert created.status_code == 201, created.text
        caller: Caller = await make_caller(admin.org_id, role_name)
        return caller

    return make
