"""Datasets and dataset items through HTTP: fields, filters, ordering, limit/offset pages, the soft-delete cycle,
405 on DELETE, items bound to their environment's datasets, scopes and other environments."""

import uuid
from typing import Any

import httpx

from tests.conftest import Caller
from tests.llm import environment_with_key


async def test_datasets(client: httpx.AsyncClient, admin: Caller) -> None:
    base, key = await environment_with_key(client, admin, "dataset:write")
    created = []
    for index, metadata in enumerate([{"environment": "production"}, {"environment": "staging"}, None]):
        response = await client.post(f"{base}/datasets/", headers=key, json={
            "name": f"  set {index} ", "description": "golden answers" if index == 1 else None,
            "metadata": metadata, "team": 999, "created_by": {"id": "someone"}})
        assert response.status_code == 201, response.text
        created.append(response.json())
    first = created[0]
    assert first["name"] == "set 0" and first["team"] == int(base.rsplit("/", 1)[1])
    assert first["created_by"]["id"] == admin.user_id and uuid.UUID(first["id"]).version == 7
    assert set(first) == {"id", "name", "description", "metadata", "created_at", "updated_at", "deleted",
                          "created_by", "team"}

    async def listed(**params: Any) -> dict[str, Any]:
        response = await client.get(f"{base}/datasets/", headers=admin.headers, params=params)
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    everything = await listed()
    assert everything["count"] == 3 and [d["id"] for d in everything["results"]] == [c["id"] for c in created[::-1]]
    assert [d["id"] for d in (await listed(search="PRODUCTION"))["results"]] == [first["id"]]
    assert [d["id"] for d in (await listed(search="golden"))["results"]] == [created[1]["id"]]
    assert [d["id"] for d in (await listed(order_by="created_at"))["results"]] == [c["id"] for c in created]
    both = f"{created[0]['id']},{created[2]['id']}"
    assert {d["id"] for d in (await listed(id__in=both))["results"]} == {created[0]["id"], created[2]["id"]}
    assert (await listed(id__in=str(uuid.uuid4())))["results"] == []
    page = await listed(limit=2)
    assert page["next"] and "offset=2" in page["next"] and page["previous"] is None
    assert len((await listed(limit=2, offset=2))["results"]) == 1
    bad_order = await client.get(f"{base}/datasets/", headers=admin.headers, params={"order_by": "name"})
    assert bad_order.status_code == 400 and bad_order.json()["attr"] == "order_by"

    missing_name = await client.post(f"{base}/datasets/", headers=key, json={"description": "x"})
    assert missing_name.status_code == 400
    assert missing_name.json() == {"type": "validation_error", "code": "required",
                                   "detail": "This field is required.", "attr": "name"}
    for bad in ({"name": ""}, {"name": "x" * 401}, {"name": {"$ne": ""}}):
        response = await client.post(f"{base}/datasets/", headers=key, json=bad)
        assert response.status_code == 400 and response.json()["attr"] == "name", bad

    # Soft delete: hidden from list and retrieve, still patchable, and undeleted.
    url = f"{base}/datasets/{first['id']}/"
    assert (await client.delete(url, headers=key)).status_code == 405
    assert (await client.delete(url, headers=key)).content == b""
    assert (await client.patch(url, headers=key, json={"deleted": True})).json()["deleted"] is True
    assert (await client.get(url, headers=key)).status_code == 404
    assert (await listed())["count"] == 2
    renamed = await client.patch(url, headers=key, json={"name": "renamed"})
    assert renamed.status_code == 200 and renamed.json()["deleted"] is True and renamed.json()["name"] == "renamed"
    assert (await client.patch(url, headers=key, json={"deleted": False})).status_code == 200
    assert (await client.get(url, headers=key)).json()["name"] == "renamed"
    replaced = await client.put(url, headers=key, json={"name": "whole"})
    assert replaced.status_code == 200 and replaced.json()["name"] == "whole"


async def test_dataset_items(client: httpx.AsyncClient, admin: Caller) -> None:
    base, key = await environment_with_key(client, admin, "dataset:write")
    other_base, other_key = await environment_with_key(client, admin, "dataset:write")
    dataset = (await client.post(f"{base}/datasets/", headers=key, json={"name": "qa"})).json()
    elsewhere = (await client.post(f"{other_base}/datasets/", headers=other_key, json={"name": "theirs"})).json()
    item = await client.post(f"{base}/dataset_items/", headers=key, json={
        "dataset": dataset["id"], "input": {"question": "2+2?"}, "output": "4", "metadata": {"source": "manual"},
        "ref_trace_id": "trace-1", "ref_timestamp": "2026-11-25T10:00:00Z", "ref_source_id": "gen-1"})
    assert item.status_code == 201, item.text
    body = item.json()
    assert body["dataset"] == dataset["id"] and body["input"] == {"question": "2+2?"} and body["output"] == "4"
    assert set(body) == {"id", "dataset", "input", "output", "metadata", "ref_trace_id", "ref_timestamp",
                         "ref_source_id", "deleted", "created_at", "updated_at", "created_by", "team"}
    foreign = await client.post(f"{base}/dataset_items/", headers=key, json={"dataset": elsewhere["id"]})
    assert foreign.status_code == 400 and foreign.json()["attr"] == "dataset"
    no_dataset = await client.post(f"{base}/dataset_items/", headers=key, json={"input": "x"})
    assert no_dataset.status_code == 400 and no_dataset.json()["attr"] == "dataset"
    second = (await client.post(f"{base}/dataset_items/", headers=key, json={"dataset": dataset["id"]})).json()

    listed = await client.get(f"{base}/dataset_items/", headers=key, params={"dataset": dataset["id"]})
    assert [i["id"] for i in listed.json()["results"]] == [second["id"], body["id"]]
    assert (await client.get(f"{other_base}/dataset_items/{body['id']}/", headers=other_key)).status_code == 404
    assert (await client.get(f"{other_base}/dataset_items/", headers=other_key)).json()["count"] == 0
    url = f"{base}/dataset_items/{body['id']}/"
    assert (await client.patch(url, headers=key, json={"deleted": True})).status_code == 200
    assert (await client.get(url, headers=key)).status_code == 404
    assert (await client.get(f"{base}/dataset_items/", headers=key)).json()["count"] == 1
    assert (await client.patch(url, headers=key, json={"output": "four"})).json()["deleted"] is True
    moved = await client.patch(url, headers=key, json={"dataset": elsewhere["id"]})
    assert moved.status_code == 400 and moved.json()["attr"] == "dataset"
    assert (await client.delete(url, headers=key)).status_code == 405


async def test_scopes_and_other_environments(client: httpx.AsyncClient, admin: Caller, make_caller,  # type: ignore[no-untyped-def]
                                             new_org_id: str) -> None:
    base, key = await environment_with_key(client, admin, "dataset:write")
    dataset = (await client.post(f"{base}/datasets/", headers=key, json={"name": "qa"})).json()
    reader = await client.post(f"/v1/{admin.org_id}/llm_analytics/api_keys/", headers=admin.headers,
                               json={"label": "r", "scopes": ["dataset:read"]})
    read_only = {"Authorization": f"Bearer {reader.json()['value']}"}
    evaluations_only = await client.post(f"/v1/{admin.org_id}/llm_analytics/api_keys/", headers=admin.headers,
                                         json={"label": "e", "scopes": ["evaluation:write"]})
    wrong_scope = {"Authorization": f"Bearer {evaluations_only.json()['value']}"}
    assert (await client.get(f"{base}/datasets/", headers=read_only)).status_code == 200
    for method, path, body in (("POST", "/datasets/", {"name": "x"}),
                               ("PATCH", f"/datasets/{dataset['id']}/", {"name": "y"}),
                               ("POST", "/dataset_items/", {"dataset": dataset["id"]})):
        refused = await client.request(method, f"{base}{path}", headers=read_only, json=body)
        assert refused.status_code == 403, (method, path)
    for path in ("/datasets/", f"/datasets/{dataset['id']}/", "/dataset_items/"):
        assert (await client.get(f"{base}{path}", headers=wrong_scope)).status_code == 403, path
        assert (await client.get(f"{base}{path}")).status_code == 401, path
    stranger: Caller = await make_caller(f"{new_org_id}d")
    for path in ("/datasets/", f"/datasets/{dataset['id']}/", "/dataset_items/"):
        assert (await client.get(f"{base}{path}", headers=stranger.headers)).status_code == 403, path
    user: Caller = await make_caller(admin.org_id, "DefaultUserRole")  # no LLMAnalytics grant
    assert (await client.get(f"{base}/datasets/", headers=user.headers)).status_code == 403
    assert (await client.get(f"{base}/datasets/not-a-uuid/", headers=key)).status_code == 404  # names nothing
