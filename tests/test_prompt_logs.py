"""Prompt logs: recorded with the permissions a reader needs, downloaded as a streamed zip checked byte for byte."""

import io
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from amigo_api.admin.prompt_logs import schemas as s
from amigo_api.admin.prompt_logs import service as prompt_logs
from amigo_api.admin.prompt_logs.repository import PromptLogRepository
from amigo_api.bootstrap import bootstrap
from amigo_api.core.blobs import BlobStore
from amigo_api.core.clock import utcnow
from amigo_api.core.db import Clusters
from amigo_api.core.ids import new_id
from amigo_api.devstack import start_mongo
from tests.conftest import Caller, make_settings, sign_in
from tests.live import live_api

SERVICE_A, SERVICE_B = "a" * 24, "b" * 24


def _log(key: str, system: str = "You are a coach.", history: list[str] | None = None,
         service_id: str | None = None) -> dict[str, Any]:
    permissions = [{"permission_name": "Service:GetService", "attributes": {"service_id": service_id}}] \
        if service_id else []
    return {"log_key": key, "system_prompt": system,
            "history_prompts": ["Hi", "Hello!"] if history is None else history,
            "required_permissions": permissions}


async def _write(client: httpx.AsyncClient, caller: Caller, body: dict[str, Any]) -> httpx.Response:
    return await client.post(f"/v1/{caller.org_id}/admin/prompt_logs/", headers=caller.headers, json=body)


async def _download(client: httpx.AsyncClient, caller: Caller, prefix: str) -> httpx.Response:
    return await client.get(f"/v1/{caller.org_id}/admin/get_prompt_logs/", headers=caller.headers,
                            params={"prompt_log_prefix": prefix})


async def test_logs_are_recorded_with_checked_keys(client: httpx.AsyncClient, admin: Caller, make_caller) -> None:  # type: ignore[no-untyped-def]
    created = await _write(client, admin, _log("conv1/turn1/engage"))
    assert created.status_code == 201 and created.json()["log_key"] == "conv1/turn1/engage"
    assert (await _write(client, admin, _log("conv1/turn1/engage"))).status_code == 409
    for key in ("../escape", "/absolute", "a/../b", "a//b", "a/./b", "tab\there", "back\\slash", "trailing/", ""):
        response = await _write(client, admin, _log(key))
        assert response.status_code == 422, (key, response.text)
    unknown = await _write(client, admin, {**_log("k"), "required_permissions": [
        {"permission_name": "Nope:Nothing", "attributes": {}}]})
    assert unknown.status_code == 400 and unknown.json()["error_code"] == "unknown_permission"
    user: Caller = await make_caller(admin.org_id, "DefaultUserRole")
    assert (await _write(client, user, _log("user-written"))).status_code == 403


async def test_download_is_a_zip_with_error_entries_for_what_the_caller_may_not_see(
        client: httpx.AsyncClient, admin: Caller, make_role_caller) -> None:  # type: ignore[no-untyped-def]
    await _write(client, admin, _log("run/1/a", "System A", ["first", "second", "third"], SERVICE_A))
    await _write(client, admin, _log("run/1/b", "System \u00e9 B", ["only"], SERVICE_B))
    await _write(client, admin, _log("run/2/open", "Open", [], None))
    await _write(client, admin, _log("other/x"))
    viewer = await make_role_caller(admin, "ServiceAViewer", [
        {"permission_name": "Service:GetService",
         "conditions": {"service_id": {"type": "Equals", "value": SERVICE_A}}}])

    everything = await _download(client, admin, "run/")
    assert everything.status_code == 200 and everything.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(everything.content))
    assert archive.testzip() is None
    assert sorted(archive.namelist()) == ["run/1/a-history", "run/1/a-system", "run/1/b-history", "run/1/b-system",
                                          "run/2/open-history", "run/2/open-system"]
    assert archive.read("run/1/a-system") == b"System A"
    assert archive.read("run/1/a-history") == b"first\n---\nsecond\n---\nthird"
    assert archive.read("run/1/b-system") == "System \u00e9 B".encode()
    assert archive.read("run/2/open-history") == b""

    partial = zipfile.ZipFile(io.BytesIO((await _download(client, viewer, "run/1")).content))
    assert sorted(partial.namelist()) == ["run/1/a-history", "run/1/a-system", "run/1/b-error"]
    assert partial.read("run/1/a-history") == b"first\n---\nsecond\n---\nthird"
    assert b"Service:GetService" in partial.read("run/1/b-error") and SERVICE_B.encode() in partial.read(
        "run/1/b-error")

    missing = await _download(client, admin, "nothing-here")
    assert missing.status_code == 404 and missing.json()["error_code"] == "prompt_logs_not_found"


async def test_more_than_1000_matches_is_refused(client: httpx.AsyncClient, admin: Caller, app: Any) -> None:
    org = await app.state.clusters.org_db(admin.org_id)
    now = utcnow()
    await PromptLogRepository(org).insert_many([
        {"_id": new_id(), "log_key": f"bulk/{i:05d}", "created_at": now, "blob_folder": "prompt-logs/x",
         "required_permissions": []} for i in range(1001)])
    refused = await _download(client, admin, "bulk/")
    assert refused.status_code == 400 and refused.json()["error_code"] == "too_many_prompt_logs"
    exactly_1000 = await _download(client, admin, "bulk/00")
    assert exactly_1000.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(exactly_1000.content)).namelist()
    assert len(names) == 1000 and all(n.endswith("-error") for n in names)  # metadata only: bodies unavailable


async def test_retention_hides_old_logs_and_a_ttl_index_removes_them(client: httpx.AsyncClient, admin: Caller,
                                                                     app: Any) -> None:
    await _write(client, admin, _log("aging/old"))
    await _write(client, admin, _log("aging/new"))
    org = await app.state.clusters.org_db(admin.org_id)
    await org.db["prompt_logs"].update_one({"org_id": admin.org_id, "log_key": "aging/old"},
                                           {"$set": {"created_at": utcnow() - timedelta(days=31)}})
    names = zipfile.ZipFile(io.BytesIO((await _download(client, admin, "aging/")).content)).namelist()
    assert sorted(names) == ["aging/new-history", "aging/new-system"]
    assert (await _download(client, admin, "aging/old")).status_code == 404
    # An expired key may be written again.
    assert (await _write(client, admin, _log("aging/old"))).status_code == 201
    indexes = {i["name"]: i async for i in await org.db["prompt_logs"].list_indexes()}
    assert indexes["prompt_log_expiry"]["expireAfterSeconds"] == 30 * 24 * 3600


async def test_the_prefix_lookup_uses_the_index(admin: Caller, app: Any, client: httpx.AsyncClient) -> None:
    for i in range(20):
        await _write(client, admin, _log(f"indexed/{i:02d}" if i < 5 else f"elsewhere/{i:02d}"))
    org = await app.state.clusters.org_db(admin.org_id)
    repository = PromptLogRepository(org)
    plan = await repository.cursor("indexed/", utcnow() - timedelta(days=30), 100).explain()
    assert "IXSCAN" in str(plan["queryPlanner"]["winningPlan"]) and "COLLSCAN" not in str(plan)
    assert plan["executionStats"]["totalDocsExamined"] == 5


def test_expired_bodies_are_swept_by_day(tmp_path: Path) -> None:
    blobs = BlobStore(str(tmp_path))
    today = utcnow()
    for age in (0, 10, 31, 33, 40):  # retention 30 days plus a day's grace: 33 and 40 go
        day = (today - timedelta(days=age)).date().isoformat()
        blobs.write_bytes(f"prompt-logs/{day}/org/{age:024x}/system", b"x")
    removed = prompt_logs.sweep_expired_bodies(blobs, 30)
    assert sorted(removed) == sorted((today - timedelta(days=age)).date().isoformat() for age in (33, 40))
    assert len(list((tmp_path / "prompt-logs").iterdir())) == 3


async def test_a_failure_after_streaming_began_ends_the_stream_without_a_valid_zip(
        tmp_path: Path, secret_key: str, new_org_id: str) -> None:
    """The database goes away mid-download: no error body, just a truncated (invalid) zip."""
    mongo, uri = start_mongo(tmp_path / "mongo")
    # Give up on the vanished database quickly instead of after the default 30 s.
    settings = make_settings(f"{uri}&serverSelectionTimeoutMS=1500", secret_key, blob_root=str(tmp_path / "blobs"))
    try:
        creds = await bootstrap(settings, new_org_id, "ops@example.com", "DefaultSuperAdministratorRole")
        clusters = Clusters(settings)
        org = await clusters.org_db(new_org_id)
        # 400 logs of 200 KB: the first cursor batch alone is far more than socket buffers hold, so the server
        # is still waiting on us when the database goes, and its next batch fails.
        for i in range(400):
            await prompt_logs.record_prompt_log(org, BlobStore(settings.blob_root), 30, s.WritePromptLogRequest(
                **_log(f"big/{i:03d}", "S" * 200_000)))
        await clusters.close()
        with live_api(settings, tmp_path, "api-prompt-logs") as url:
            async with httpx.AsyncClient(base_url=url, timeout=60) as http:
                caller = Caller(new_org_id, creds["user_id"], creds["api_key_id"], creds["api_key"],
                                await sign_in(http, new_org_id, creds))
                received = b""
                async with http.stream("GET", f"/v1/{new_org_id}/admin/get_prompt_logs/", headers=caller.headers,
                                       params={"prompt_log_prefix": "big/"}) as response:
                    assert response.status_code == 200
                    with pytest.raises(httpx.RemoteProtocolError):
                        async for chunk in response.aiter_raw():
                            received += chunk
                            if mongo.running():
                                mongo.stop()
    finally:
        mongo.stop()
    assert len(received) > 0 and b"error_code" not in received
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(received)).testzip()


async def test_a_changed_retention_updates_the_ttl_index(app: Any) -> None:
    database = app.state.clusters.database("default").client[f"retention{new_id()}"]
    await PromptLogRepository.ensure_retention(database, 30 * 24 * 3600)
    await PromptLogRepository.ensure_retention(database, 7 * 24 * 3600)
    indexes = {i["name"]: i async for i in await database["prompt_logs"].list_indexes()}
    assert indexes["prompt_log_expiry"]["expireAfterSeconds"] == 7 * 24 * 3600
    await database.client.drop_database(database.name)
