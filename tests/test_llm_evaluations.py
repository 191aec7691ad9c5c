"""Evaluations (every validation case of the reference's §4 with its `attr`), provider keys (encrypted, never
shown back) and the evaluation config, through HTTP."""

from typing import Any

import httpx
from pymongo import MongoClient

from amigo_api.hog.bytecode import load
from amigo_api.hog.engine import run
from amigo_api.hog.filters import matcher
from amigo_api.llm_analytics.evaluations import compile_stored_evaluations
from amigo_api.settings import Settings
from tests.conftest import Caller
from tests.llm import environment_with_key

JUDGE = {"name": "helpful", "evaluation_type": "llm_judge", "output_type": "boolean",
         "evaluation_config": {"prompt": "  Is the answer helpful?  ", "extra": 1}, "output_config": {}}


async def test_evaluations(client: httpx.AsyncClient, admin: Caller) -> None:
    base, key = await environment_with_key(client, admin, "evaluation:write")
    created = await client.post(f"{base}/evaluations/", headers=key, json={**JUDGE, "conditions": [
        {"id": "c1", "properties": [{"key": "$ai_model", "value": "gpt", "operator": "exact", "type": "event"}],
         "sampling_rate": 5}]})
    assert created.status_code == 201, created.text
    evaluation = created.json()
    assert evaluation["evaluation_config"] == {"prompt": "Is the answer helpful?"}
    assert evaluation["output_config"] == {"allows_na": False}
    condition = evaluation["conditions"][0]
    assert {k: condition[k] for k in ("id", "rollout_percentage", "properties", "bytecode_error")} == {
        "id": "c1", "rollout_percentage": 100, "bytecode_error": None, "properties": [
            {"key": "$ai_model", "value": "gpt", "operator": "exact", "type": "event"}]}
    matches = matcher(condition["bytecode"])  # the filters, compiled to the engine's stored form
    assert matches({"$ai_model": "gpt"}) and not matches({"$ai_model": "gpt-4"}) and not matches({})
    assert (evaluation["enabled"], evaluation["status"], evaluation["status_reason"]) == (False, "paused", None)
    assert evaluation["created_by"]["id"] == admin.user_id and evaluation["model_configuration"] is None

    async def refused(body: dict[str, Any], attr: str, url: str = f"{base}/evaluations/", method: str = "POST"
                      ) -> dict[str, Any]:
        response = await client.request(method, url, headers=key, json=body)
        assert response.status_code == 400 and response.json()["attr"] == attr, (body, response.text)
        found: dict[str, Any] = response.json()
        return found

    for field in ("name", "evaluation_type", "output_type"):
        await refused({k: v for k, v in JUDGE.items() if k != field}, field)
    await refused({**JUDGE, "evaluation_config": {}}, "config")
    blank = await refused({**JUDGE, "evaluation_config": {"prompt": "   "}}, "config")
    assert "Prompt cannot be empty" in blank["detail"]
    hog_blank = await refused({**JUDGE, "evaluation_type": "hog", "evaluation_config": {"source": " "}}, "config")
    assert "Source code cannot be empty" in hog_blank["detail"]
    await refused({**JUDGE, "output_type": "sentiment"}, "output_type")
    await refused({**JUDGE, "conditions": [{"rollout_percentage": 101}]}, "conditions")
    await refused({**JUDGE, "conditions": [{"rollout_percentage": -1}]}, "conditions")
    await refused({**JUDGE, "evaluation_type": "hog", "evaluation_config": {"source": "return true"},
                   "model_configuration": {"provider": "openai", "model": "gpt-5-mini"}}, "model_configuration")
    await refused({**JUDGE, "model_configuration": {"provider": "openai", "model": "no-such-model"}},
                  "model_configuration")
    await refused({**JUDGE, "model_configuration": {"provider": "nope", "model": "x"}}, "model_configuration__provider")
    await refused({**JUDGE, "model_configuration": {"provider": "openai", "model": "m",
                                                    "provider_key_id": "0190b8a4-0000-7000-8000-000000000000"}},
                  "model_configuration")

    broken = await refused({**JUDGE, "evaluation_type": "hog", "evaluation_config": {"source": "return |"}},
                           "evaluation_config")
    assert broken["detail"].startswith("Failed to compile Hog code: Unexpected character '|' (line 1, column 8)")
    long_sum = "return " + "+".join(["1"] * 33_000)  # compiled in a Hog child: 400, not the API's recursion error
    deep = await refused({**JUDGE, "evaluation_type": "hog", "evaluation_config": {"source": long_sum}},
                         "evaluation_config")
    assert deep["detail"] == "Failed to compile Hog code: the program nests too deeply to be compiled"
    hog = await client.post(f"{base}/evaluations/", headers=key, json={
        **JUDGE, "name": "short", "evaluation_type": "hog", "enabled": True,
        "evaluation_config": {"source": "return length(event.properties.$ai_output_choices) > 0"}})
    assert hog.status_code == 201, hog.text
    bytecode = hog.json()["evaluation_config"]["bytecode"]
    assert bytecode[:2] == ["_AH", 1]  # stored compiled, marked with its format
    event = {"properties": {"$ai_output_choices": "hi"}}
    assert run(load(bytecode), {"event": event}).value is True
    assert run(load(bytecode), {"event": {"properties": {}}}).value is False
    assert (hog.json()["enabled"], hog.json()["status"]) == (True, "active")

    url = f"{base}/evaluations/{evaluation['id']}/"
    enabled = (await client.patch(url, headers=key, json={"enabled": True})).json()
    assert (enabled["status"], enabled["status_reason"]) == ("active", None)
    only_config = await client.patch(url, headers=key, json={"evaluation_config": {"prompt": " Is it short? "}})
    assert only_config.json()["evaluation_config"] == {"prompt": "Is it short?"}
    await refused({"evaluation_config": {"prompt": ""}}, "config", url, "PATCH")
    with_model = await client.patch(url, headers=key, json={"model_configuration": {"provider": "openai",
                                                                                    "model": "gpt-5-mini"}})
    assert with_model.json()["model_configuration"] == {"provider": "openai", "model": "gpt-5-mini",
                                                        "provider_key_id": None, "provider_key_name": None}
    cleared = await client.patch(url, headers=key, json={"model_configuration": None})
    assert cleared.json()["model_configuration"] is None

    async def listed(**params: Any) -> list[str]:
        response = await client.get(f"{base}/evaluations/", headers=key, params=params)
        assert response.status_code == 200, response.text
        return [e["name"] for e in response.json()["results"]]

    assert await listed() == ["short", "helpful"] and await listed(order_by="name") == ["helpful", "short"]
    assert await listed(search="HELP") == ["helpful"] and await listed(enabled="true") == ["short", "helpful"]
    assert await listed(id__in=evaluation["id"]) == ["helpful"]
    assert (await client.patch(url, headers=key, json={"deleted": True})).status_code == 200
    assert await listed() == ["short"] and (await client.get(url, headers=key)).status_code == 404
    assert (await client.patch(url, headers=key, json={"deleted": False})).json()["deleted"] is False
    assert (await client.delete(url, headers=key)).status_code == 405


async def test_provider_keys_and_the_evaluation_config(client: httpx.AsyncClient, admin: Caller,
                                                       settings: Settings) -> None:
    base, key = await environment_with_key(client, admin, "evaluation:write")
    other_base, other_key = await environment_with_key(client, admin, "evaluation:write")
    secret = "sk-test-0123456789abcdef"
    created = await client.post(f"{base}/llm_analytics/provider_keys/", headers=key, json={
        "provider": "openai", "name": "ours", "api_key": secret, "base_url": "https://llm.example.com/v1"})
    assert created.status_code == 201, created.text
    provider_key = created.json()
    assert provider_key["state"] == "ok" and secret not in created.text and provider_key["api_key_masked"]
    listed = await client.get(f"{base}/llm_analytics/provider_keys/", headers=key)
    assert secret not in listed.text and listed.json()["count"] == 1
    database: MongoClient[dict[str, Any]] = MongoClient(settings.mongo_uri)
    try:
        stored = database[settings.database_name]["llm_provider_keys"].find_one({"_id": provider_key["id"]})
        assert stored is not None and secret not in str(stored)
    finally:
        database.close()
    assert (await client.post(f"{base}/llm_analytics/provider_keys/", headers=key, json={
        "provider": "azure_openai", "name": "x", "api_key": "k"})).json()["attr"] == "base_url"
    for refused in ("http://127.0.0.1:8080/v1", "http://localhost:11434/v1", "http://[::1]/v1", "http://0.0.0.0/v1",
                    "http://169.254.169.254/latest", "http://10.0.0.1/v1", "http://100.64.0.1/v1",
                    "http://[::ffff:127.0.0.1]/v1", "http://[fe80::1]/v1"):
        answer = await client.post(f"{base}/llm_analytics/provider_keys/", headers=key, json={
            "provider": "openai", "name": "inside", "api_key": "sk-x", "base_url": refused})
        assert answer.status_code == 400 and answer.json()["attr"] == "base_url", (refused, answer.text)
        assert "AMIGO_OUTBOUND_ALLOW_PRIVATE" in answer.json()["detail"]
    assert (await client.get(f"{base}/llm_analytics/provider_keys/", headers=key)).json()["count"] == 1

    judged = await client.post(f"{base}/evaluations/", headers=key, json={**JUDGE, "model_configuration": {
        "provider": "openai", "model": "any-self-hosted-model", "provider_key_id": provider_key["id"]}})
    assert judged.status_code == 201 and judged.json()["model_configuration"]["provider_key_name"] == "ours"
    mismatch = await client.post(f"{base}/evaluations/", headers=key, json={**JUDGE, "model_configuration": {
        "provider": "anthropic", "model": "m", "provider_key_id": provider_key["id"]}})
    assert mismatch.status_code == 400 and mismatch.json()["attr"] == "model_configuration"
    theirs = await client.post(f"{other_base}/evaluations/", headers=other_key, json={**JUDGE, "model_configuration": {
        "provider": "openai", "model": "m", "provider_key_id": provider_key["id"]}})
    assert theirs.status_code == 400  # another environment's key does not exist there
    evaluation_url = f"/evaluations/{judged.json()['id']}/"
    assert (await client.get(f"{other_base}{evaluation_url}", headers=other_key)).status_code == 404
    renamed = await client.patch(f"{other_base}{evaluation_url}", headers=other_key, json={"name": "x"})
    assert renamed.status_code == 404
    assert (await client.get(f"{other_base}/evaluations/", headers=other_key)).json()["count"] == 0
    assert (await client.get(f"{other_base}/llm_analytics/provider_keys/", headers=other_key)).json()["count"] == 0

    config = (await client.get(f"{base}/llm_analytics/evaluation_config/", headers=key)).json()
    assert (config["trial_eval_limit"], config["trial_evals_used"], config["trial_evals_remaining"]) == (100, 0, 100)
    assert config["active_provider_key"] is None
    set_url = f"{base}/llm_analytics/evaluation_config/set_active_key/"
    assert (await client.post(set_url, headers=key, json={})).status_code == 400
    assert (await client.post(f"{other_base}/llm_analytics/evaluation_config/set_active_key/", headers=other_key,
                              json={"key_id": provider_key["id"]})).status_code == 404
    active = await client.post(set_url, headers=key, json={"key_id": provider_key["id"]})
    assert active.status_code == 200 and active.json()["active_provider_key"]["id"] == provider_key["id"]
    assert secret not in active.text
    assert (await client.delete(f"{base}/llm_analytics/provider_keys/{provider_key['id']}/",
                                headers=key)).status_code == 204
    after = (await client.get(f"{base}/llm_analytics/evaluation_config/", headers=key)).json()
    assert after["active_provider_key"] is None
    read_only = await client.post(f"/v1/{admin.org_id}/llm_analytics/api_keys/", headers=admin.headers,
                                  json={"label": "r", "scopes": ["evaluation:read"]})
    reader = {"Authorization": f"Bearer {read_only.json()['value']}"}
    assert (await client.get(f"{base}/evaluations/", headers=reader)).status_code == 200
    assert (await client.post(f"{base}/evaluations/", headers=reader, json=JUDGE)).status_code == 403
    assert (await client.post(f"{base}/llm_analytics/provider_keys/", headers=reader, json={
        "provider": "openai", "name": "x", "api_key": "k"})).status_code == 403


async def test_sql_tables(client: httpx.AsyncClient, admin: Caller) -> None:
    base, key = await environment_with_key(client, admin, "evaluation:write")
    secret = "sk-never-in-sql-0123456789"
    provider_key = (await client.post(f"{base}/llm_analytics/provider_keys/", headers=key, json={
        "provider": "openai", "name": "k", "api_key": secret})).json()
    await client.post(f"{base}/evaluations/", headers=key, json={**JUDGE, "model_configuration": {
        "provider": "openai", "model": "m", "provider_key_id": provider_key["id"]}})
    writer = await client.post(f"/v1/{admin.org_id}/llm_analytics/api_keys/", headers=admin.headers,
                               json={"label": "d", "scopes": ["dataset:write"]})
    datasets_key = {"Authorization": f"Bearer {writer.json()['value']}"}
    dataset = (await client.post(f"{base}/datasets/", headers=datasets_key, json={"name": "qa"})).json()
    await client.post(f"{base}/dataset_items/", headers=datasets_key, json={"dataset": dataset["id"], "input": "q"})
    for table, expected in (("datasets", "qa"), ("dataset_items", dataset["id"]), ("evaluations", "helpful")):
        answer = await client.post(f"/v1/{admin.org_id}/admin/sql_query", headers=admin.headers,
                                   json={"sql_query": f"select * from {table}", "async_query": False})
        assert answer.status_code == 200 and expected in answer.text, (table, answer.text)
        assert secret not in answer.text and "api_key" not in answer.text


async def test_evaluations_stored_before_compilation_are_compiled_once(client: httpx.AsyncClient, admin: Caller,
                                                                      app: Any) -> None:
    base, key = await environment_with_key(client, admin, "evaluation:write")
    good = (await client.post(f"{base}/evaluations/", headers=key, json={
        **JUDGE, "evaluation_type": "hog", "enabled": True, "evaluation_config": {"source": "return true"},
        "conditions": [{"properties": [{"key": "a", "value": "1"}]}]})).json()
    broken = (await client.post(f"{base}/evaluations/", headers=key, json={
        **JUDGE, "evaluation_type": "hog", "enabled": True, "evaluation_config": {"source": "return 1"}})).json()
    org = await app.state.clusters.org_db(admin.org_id)
    stored = org.db["llm_evaluations"]
    # As an older release stored them: no compiled form at all.
    await stored.update_one({"_id": good["id"]}, {"$set": {"evaluation_config.bytecode": [],
                                                            "conditions.0.bytecode": None},
                                                   "$unset": {"compiled_format": ""}})
    await stored.update_one({"_id": broken["id"]}, {"$set": {"evaluation_config.source": "return |"},
                                                     "$unset": {"compiled_format": ""}})
    assert await compile_stored_evaluations(org.db) >= 2
    assert await compile_stored_evaluations(org.db) == 0  # once
    compiled = (await client.get(f"{base}/evaluations/{good['id']}/", headers=key)).json()
    assert run(load(compiled["evaluation_config"]["bytecode"])).value is True
    assert matcher(compiled["conditions"][0]["bytecode"])({"a": 1})
    failed = (await client.get(f"{base}/evaluations/{broken['id']}/", headers=key)).json()
    assert (failed["enabled"], failed["status"], failed["status_reason"]) == (False, "error", "hog_error")
