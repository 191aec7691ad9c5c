"""Organizations: get (anonymous and detailed), create (images, reserved ids, conflicts, cross-org access),
and the org -> cluster map across two database servers."""

import base64
import struct
import zlib
from collections.abc import AsyncIterator

import httpx
import pytest
from pymongo import AsyncMongoClient

from amigo_api.app import create_app
from amigo_api.bootstrap import bootstrap
from amigo_api.devstack import start_mongo
from tests.conftest import RUN_ID, Caller, make_settings, sign_in


def png(width: int, height: int) -> str:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    data = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))
    return base64.b64encode(data).decode()


def ico(size: int) -> str:
    header = struct.pack("<HHH", 0, 1, 1) + bytes([size, size, 0, 0]) + struct.pack("<HHII", 1, 32, 0, 22)
    return base64.b64encode(header).decode()


def org_body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "org_name": "Acme", "title": "Coaching", "main_description": "Main", "sub_description": "Sub",
        "user_dimensions": [{"description": "age", "tags": ["adult"]}], "logo": png(400, 160),
        "square_logo": png(64, 64), "favicon": ico(48), "signup_page_headshot": png(292, 400),
        "onboarding_instructions": ["Welcome"], "azure_devops_team_name": "acme-team",
        "default_user_preferences": {"timezone": "Europe/Paris", "preferred_language": "fra"}}
    body.update(overrides)
    return body


def create_headers(caller: Caller, cluster: str = "default") -> dict[str, str]:
    return {**caller.headers, "X-ORG-ID": caller.org_id, "x-mongo-cluster-name": cluster}


async def test_get_organization_shows_details_only_to_permitted_callers(client: httpx.AsyncClient, admin: Caller,
                                                                        make_caller) -> None:
    url = f"/v1/{admin.org_id}/organization/"
    anonymous = await client.get(url)
    assert anonymous.status_code == 200
    assert anonymous.json()["org_id"] == admin.org_id
    assert anonymous.json()["tenant_id"] is None and anonymous.json()["default_user_preferences"] is None
    detailed = (await client.get(url, headers=admin.headers)).json()
    assert detailed["tenant_id"] and detailed["default_user_preferences"] is not None
    assert (await client.get("/v1/nowhere-org-xyz/organization/")).status_code == 404


async def test_create_organization(client: httpx.AsyncClient, admin: Caller) -> None:
    new_org_id = f"{admin.org_id}new"
    url = f"/v1/{new_org_id}/organization/"
    created = await client.put(url, headers=create_headers(admin), json=org_body())
    assert created.status_code == 201, created.text
    assert created.json() == {"org_id": new_org_id}
    again = await client.put(url, headers=create_headers(admin), json=org_body())
    assert again.status_code == 409
    # The creator can act in the new org through X-ORG-ID; its default roles and super user exist.
    cross = {**admin.headers, "X-ORG-ID": admin.org_id}
    roles = (await client.get(f"/v1/{new_org_id}/role/", headers=cross)).json()["roles"]
    assert [r["name"] for r in roles] == ["DefaultUserRole", "DefaultAdministratorRole",
                                          "DefaultAmigoAdministratorRole", "DefaultSuperAdministratorRole"]
    users = (await client.get(f"/v1/{new_org_id}/user/", headers=cross)).json()["users"]
    assert [u["email"] for u in users] == ["admin@amigo.ai"]
    assert users[0]["preferences"]["timezone"] == "Europe/Paris"
    public = (await client.get(url)).json()
    assert public["org_name"] == "Acme" and "logo" not in public


async def test_create_organization_refusals(client: httpx.AsyncClient, make_caller, admin: Caller) -> None:
    assert (await client.put("/v1/www/organization/", headers=create_headers(admin),
                             json=org_body())).status_code == 400
    for field, value in (("logo", png(100, 100)), ("favicon", png(48, 48)), ("square_logo", "not base64!"),
                         ("azure_devops_team_name", "Upper Case"), ("org_name", "  ")):
        response = await client.put("/v1/orgimages/organization/", headers=create_headers(admin),
                                    json=org_body(**{field: value}))
        assert response.status_code == 422, field
    unknown_cluster = await client.put("/v1/orgnocluster/organization/", headers=create_headers(admin, "mars"),
                                       json=org_body())
    assert unknown_cluster.status_code == 400
    admin_only: Caller = await make_caller(admin.org_id, "DefaultAmigoAdministratorRole")
    forbidden = await client.put("/v1/orgforbidden/organization/", headers=create_headers(admin_only),
                                 json=org_body())
    assert forbidden.status_code == 403
    no_org_header = await client.put("/v1/orgnoheader/organization/",
                                     headers={**admin.headers, "x-mongo-cluster-name": "default"}, json=org_body())
    assert no_org_header.status_code == 401


@pytest.fixture
async def two_cluster_client(tmp_path_factory: pytest.TempPathFactory, mongo_server: str,
                             secret_key: str) -> AsyncIterator[tuple[httpx.AsyncClient, object, str]]:
    child, second_uri = start_mongo(tmp_path_factory.mktemp("second-cluster"))
    settings = make_settings(mongo_server, secret_key, mongo_clusters={"second": second_uri},
                             database_name=f"amigo_clusters_{RUN_ID}")
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
            yield http, settings, second_uri
    finally:
        child.stop()


async def test_an_organizations_documents_land_only_in_its_cluster(two_cluster_client, new_org_id: str) -> None:
    http, settings, second_uri = two_cluster_client
    home = await bootstrap(settings, "clusterhome", "owner@example.com", "DefaultSuperAdministratorRole")
    caller = Caller("clusterhome", home["user_id"], home["api_key_id"], home["api_key"],
                    await sign_in(http, "clusterhome", home))
    created = await http.put(f"/v1/{new_org_id}/organization/", headers=create_headers(caller, "second"),
                             json=org_body())
    assert created.status_code == 201, created.text
    invited = await http.post(f"/v1/{new_org_id}/user/", headers={**caller.headers, "X-ORG-ID": "clusterhome"},
                              json={"first_name": "A", "last_name": "B", "email": "a@example.com",
                                    "role_name": "DefaultUserRole"})
    assert invited.status_code == 201
    first, second = AsyncMongoClient(settings.mongo_uri), AsyncMongoClient(second_uri)
    try:
        for collection in ("organizations", "roles", "users", "external_members"):
            assert await second[f"amigo_clusters_{RUN_ID}"][collection].count_documents({"org_id": new_org_id}) > 0
            assert await first[f"amigo_clusters_{RUN_ID}"][collection].count_documents({"org_id": new_org_id}) == 0
        mapping = await first[settings.infra_database_name]["organization_clusters"].find_one({"_id": new_org_id})
        assert mapping == {"_id": new_org_id, "cluster": "second"}
    finally:
        await first.close()
        await second.close()


async def test_organization_ids_are_kept_to_a_safe_alphabet(client: httpx.AsyncClient, admin: Caller) -> None:
    unknown = {}
    for path in ("admin/get_prompt_logs/?prompt_log_prefix=a", "tool/repo/branches", "user/"):
        answer = await client.get(f"/v1/nosuchorg/{path}", headers=admin.headers)
        unknown[path] = (answer.status_code, answer.json())
        assert answer.status_code == 404 and answer.json()["error_code"] == "organization_not_found"
    for org_id in ("%24where", "x%00y", "a%24b", "Upper", "a.b", "-lead", "a" * 64, "caf%C3%A9"):
        created = await client.put(f"/v1/{org_id}/organization/", headers=create_headers(admin), json=org_body())
        assert created.status_code == 422, (org_id, created.text)
        assert created.json()["error_code"] == "validation_error"
        for path in unknown:  # an organization that does not exist, whatever the shape of its id
            answer = await client.get(f"/v1/{org_id}/{path}", headers=admin.headers)
            assert (answer.status_code, answer.json()) == unknown[path], (org_id, path)
    fine = await client.put(f"/v1/{'a' * 63}/organization/", headers=create_headers(admin), json=org_body())
    assert fine.status_code == 201, fine.text
    foreign = await client.get(f"/v1/{admin.org_id}/user/", headers={**admin.headers, "X-ORG-ID": "a$b"})
    assert foreign.status_code == 401
