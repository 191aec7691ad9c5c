"""Simulation unit tests pin a service version set; the model registry lists models and can be replaced."""

import json
from pathlib import Path
from typing import Any

import httpx

from amigo_api.app import create_app
from tests.builders import created_id, new_service
from tests.conftest import Caller, make_settings, sign_in

METRIC = "c" * 24


def _unit_test(service_id: str, name: str = "greets", version_set: str = "release", **overrides: Any
               ) -> dict[str, Any]:
    body = {"name": name, "description": "Greets the user.", "service_id": service_id,
            "service_version_set_name": version_set, "persona_id": "a" * 24, "scenario_id": "b" * 24,
            "max_interactions": 10, "tags": {"suite": "smoke"},
            "success_criterions": [{"name": "polite", "metric_id": METRIC,
                                    "criterion": {"type": "boolean", "expected_value": True}}]}
    body.update(overrides)
    return body


async def test_unit_tests_are_created_listed_and_deleted(client: httpx.AsyncClient, admin: Caller) -> None:
    service_id, _, _ = await new_service(client, admin)
    base = f"/v1/{admin.org_id}/simulation/unit_test/"
    first = await created_id(await client.post(base, headers=admin.headers, json=_unit_test(service_id)),
                             "simulation_unit_test_id")
    second = await created_id(await client.post(base, headers=admin.headers, json=_unit_test(
        service_id, "counts", "edge", tags={"suite": "full"}, success_criterions=[
            {"name": "turns", "metric_id": "d" * 24,
             "criterion": {"type": "numerical", "verb": "<=", "threshold": 5}}])), "simulation_unit_test_id")
    duplicate = await client.post(base, headers=admin.headers, json=_unit_test(service_id))
    assert duplicate.status_code == 409
    assert (await client.post(base, headers=admin.headers, json=_unit_test("f" * 24, "x"))).status_code == 404
    for missing_set in ("nope", "$where", "a.b", "version_sets"):
        response = await client.post(base, headers=admin.headers, json=_unit_test(service_id, "x", missing_set))
        assert response.status_code == 404, (missing_set, response.text)
    for bad in ({"max_interactions": 101}, {"success_criterions": []}, {"persona_id": "p"}):
        assert (await client.post(base, headers=admin.headers, json=_unit_test(service_id, "y", **bad))
                ).status_code == 422

    listed = (await client.get(base, headers=admin.headers, params={"sort_by": "-updated_at"})).json()
    assert [u["id"] for u in listed["simulation_unit_tests"]] == [second, first]
    assert listed["simulation_unit_tests"][1]["tags"] == [{"key": "suite", "value": "smoke"}]
    assert listed["filter_values"] == {
        "creators": [{"org_id": admin.org_id, "user_id": admin.user_id}], "tags": ["suite"],
        "service_ids": [service_id], "persona_ids": ["a" * 24], "scenario_ids": ["b" * 24],
        "metric_ids": [METRIC, "d" * 24]}
    by_metric = (await client.get(base, headers=admin.headers, params={"metric_id": "d" * 24})).json()
    assert [u["id"] for u in by_metric["simulation_unit_tests"]] == [second]
    by_tag = (await client.get(base, headers=admin.headers, params={"tag": "suite:smoke"})).json()
    assert [u["id"] for u in by_tag["simulation_unit_tests"]] == [first]
    by_creator = (await client.get(base, headers=admin.headers,
                                   params={"creator": f"{admin.org_id},{admin.user_id}", "limit": 1})).json()
    assert len(by_creator["simulation_unit_tests"]) == 1 and by_creator["has_more"]

    assert (await client.delete(f"{base}{first}/", headers=admin.headers)).status_code == 204
    assert (await client.delete(f"{base}{first}/", headers=admin.headers)).status_code == 404
    deleted = (await client.get(base, headers=admin.headers, params={"is_deleted": True})).json()
    assert [u["id"] for u in deleted["simulation_unit_tests"]] == [first]
    assert deleted["simulation_unit_tests"][0]["is_deleted"] is True
    # The name of a deleted unit test is free again.
    assert (await client.post(base, headers=admin.headers, json=_unit_test(service_id))).status_code == 201


async def test_a_unit_test_keeps_its_version_set_and_service_active(client: httpx.AsyncClient, admin: Caller) -> None:
    service_id, _, _ = await new_service(client, admin, "Guarded")
    service_url = f"/v1/{admin.org_id}/service/{service_id}/"
    canary = f"{service_url}version_sets/canary/"
    assert (await client.put(canary, headers=admin.headers, json={"version_set": {
        "agent_version_number": 1, "service_hierarchical_state_machine_version_number": 1,
        "llm_model_preferences": {}}})).status_code == 204
    base = f"/v1/{admin.org_id}/simulation/unit_test/"
    unit_test = await created_id(await client.post(base, headers=admin.headers, json=_unit_test(
        service_id, version_set="canary")), "simulation_unit_test_id")

    in_use = await client.delete(canary, headers=admin.headers)
    assert in_use.status_code == 400 and "'greets'" in in_use.json()["detail"]
    deactivate = await client.post(service_url, headers=admin.headers, json={"is_active": False})
    assert deactivate.status_code == 400 and deactivate.json()["error_code"] == "service_in_use"
    assert (await client.delete(f"{base}{unit_test}/", headers=admin.headers)).status_code == 204
    assert (await client.delete(canary, headers=admin.headers)).status_code == 204
    assert (await client.post(service_url, headers=admin.headers, json={"is_active": False})).status_code == 200


async def test_unit_test_visibility_follows_grants(client: httpx.AsyncClient, admin: Caller,
                                                   make_role_caller) -> None:  # type: ignore[no-untyped-def]
    service_id, _, _ = await new_service(client, admin)
    base = f"/v1/{admin.org_id}/simulation/unit_test/"
    await created_id(await client.post(base, headers=admin.headers, json=_unit_test(service_id)),
                     "simulation_unit_test_id")
    await created_id(await client.post(base, headers=admin.headers, json=_unit_test(
        service_id, "other", tags={"suite": "full"})), "simulation_unit_test_id")
    smoke_only = await make_role_caller(admin, "SmokeViewer", [
        {"permission_name": "Simulation:GetSimulationUnitTest",
         "conditions": {"tags": {"type": "Equals", "value": "suite:smoke"}}}])
    seen = (await client.get(base, headers=smoke_only.headers)).json()["simulation_unit_tests"]
    assert [u["name"] for u in seen] == ["greets"]
    assert (await client.post(base, headers=smoke_only.headers, json=_unit_test(service_id, "z"))).status_code == 403


async def test_get_models_lists_the_registry_with_parameter_schemas(client: httpx.AsyncClient, admin: Caller,
                                                                   make_caller) -> None:  # type: ignore[no-untyped-def]
    response = await client.get(f"/v1/{admin.org_id}/admin/get_models/", headers=admin.headers)
    assert response.status_code == 200 and response.headers["X-RateLimit-Limit"] == "200"
    models = {m["name"]: m for m in response.json()["models"]}
    assert "openai_gpt-4.1-2025-04-14" in models and "google_gemini-2.5-flash" in models
    schema = models["google_gemini-2.5-flash"]["params_model_schema"]
    assert schema["properties"]["temperature"]["maximum"] == 2 and schema["properties"]["top_k"]["minimum"] == 1
    user = await make_caller(admin.org_id, "DefaultUserRole")
    assert (await client.get(f"/v1/{admin.org_id}/admin/get_models/", headers=user.headers)).status_code == 403


async def test_a_models_file_replaces_the_registry(tmp_path: Path, mongo_server: str, secret_key: str,
                                                   new_org_id: str, make_caller) -> None:  # type: ignore[no-untyped-def]
    """A deprecated model is no longer listed, cannot be chosen, and keeps a service using it from activating."""
    models = {"version": "test-1", "models": [
        {"name": "house-model", "params_model_schema": {
            "type": "object", "properties": {"temperature": {"type": "number", "minimum": 0, "maximum": 1}},
            "additionalProperties": False}},
        {"name": "old-model", "deprecated": True, "params_model_schema": {"type": "object"}}]}
    path = tmp_path / "models.json"
    path.write_text(json.dumps(models))
    app = create_app(make_settings(mongo_server, secret_key, models_file=str(path)))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://other") as other:
        admin: Caller = await make_caller(new_org_id)
        headers = {"Authorization": f"Bearer {admin.token}"}
        listed = (await other.get(f"/v1/{admin.org_id}/admin/get_models/", headers=headers)).json()["models"]
        assert [m["name"] for m in listed] == ["house-model"]
        service_id, _, _ = await new_service(other, admin, is_active=False)
        url = f"/v1/{admin.org_id}/service/{service_id}/version_sets/tuned/"

        def version_set(name: str, **params: Any) -> dict[str, Any]:
            return {"version_set": {"agent_version_number": None,
                                    "service_hierarchical_state_machine_version_number": None,
                                    "llm_model_preferences": {"engage_user": {"llm_name": name, "params": params}}}}

        assert (await other.put(url, headers=headers, json=version_set("house-model", temperature=0.5))
                ).status_code == 204
        assert (await other.put(url, headers=headers, json=version_set("house-model", temperature=1.5))
                ).status_code == 400
        assert (await other.put(url, headers=headers, json=version_set("old-model"))).status_code == 400
        assert (await other.put(url, headers=headers, json=version_set("openai_gpt-4.1-2025-04-14"))
                ).status_code == 400

    # The same service under the packaged registry: "house-model" is unknown there, so activation is refused.
    services = f"/v1/{admin.org_id}/service/{service_id}/"
    default_app = create_app(make_settings(mongo_server, secret_key))
    async with default_app.router.lifespan_context(default_app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=default_app), base_url="http://default") as default:
        token = await sign_in(default, admin.org_id, {"api_key": admin.api_key, "api_key_id": admin.api_key_id,
                                                      "user_id": admin.user_id})
        refused = await default.post(services, headers={"Authorization": f"Bearer {token}"},
                                     json={"is_active": True})
        assert refused.status_code == 400 and refused.json()["error_code"] == "llm_model_unsupported"
