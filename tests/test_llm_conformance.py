"""Our OpenAPI document for the LLM analytics routes against a fixture transcribed from PostHog's reference:
every path and method, query parameter, request field and response field is there, so none can silently go
missing."""

import json
import re
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import Caller

REFERENCE = Path(__file__).resolve().parent / "data" / "llm-analytics-reference.json"
PREFIX = "/api/environments/{environment_id}/"
PAGE_FIELDS = {"count", "next", "previous", "results"}


def _resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _properties(schema: dict[str, Any], document: dict[str, Any]) -> set[str]:
    return set(_resolve(schema, document).get("properties", {}))


def _response_schema(operation: dict[str, Any]) -> dict[str, Any]:
    for status in ("200", "201"):
        if status in operation["responses"]:
            schema: dict[str, Any] = operation["responses"][status]["content"]["application/json"]["schema"]
            return schema
    raise AssertionError(f"no success response: {operation['operationId']}")


async def test_the_reference_fields_are_all_there(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    reference = json.loads(REFERENCE.read_text())
    checked = 0
    for relative, methods in reference.items():
        if relative.startswith("_"):
            continue
        path = PREFIX + relative
        assert path in document["paths"], path
        for method, expected in methods.items():
            operation = document["paths"][path].get(method)
            assert operation is not None, (method, path)
            query = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
            assert set(expected.get("query", [])) <= query, (method, path, query)
            if "request" in expected:
                body = operation["requestBody"]["content"]["application/json"]["schema"]
                assert set(expected["request"]) <= _properties(body, document), (method, path)
            if "response" in expected:
                schema = _resolve(_response_schema(operation), document)
                if expected.get("page"):
                    assert set(schema["properties"]) >= PAGE_FIELDS, (method, path)
                    schema = schema["properties"]["results"]["items"]
                assert set(expected["response"]) <= _properties(schema, document), (method, path)
            checked += 1
    assert checked == 20


async def test_every_route_refuses_strangers_and_wrong_scopes(client: httpx.AsyncClient, admin: Caller,
                                                               make_caller, new_org_id: str) -> None:  # type: ignore[no-untyped-def]
    """Each route of the PostHog API: 401 without credentials, 403 for another organization's token, and 403
    for a key whose scopes are the other resource's."""
    environment = (await client.post(f"/v1/{admin.org_id}/llm_analytics/environments/", headers=admin.headers,
                                     json={"name": "probes"})).json()
    stranger: Caller = await make_caller(f"{new_org_id}p")
    keys = {}
    for scope in ("dataset:write", "evaluation:write"):
        created = await client.post(f"/v1/{admin.org_id}/llm_analytics/api_keys/", headers=admin.headers,
                                    json={"label": scope, "scopes": [scope]})
        keys[scope] = {"Authorization": f"Bearer {created.json()['value']}"}
    document = (await client.get("/openapi.json")).json()
    probed = 0
    for path, methods in document["paths"].items():
        if not path.startswith(PREFIX) or path == PREFIX:
            continue
        url = re.sub(r"\{(\w+)\}", lambda m: str(environment["id"]) if m.group(1) == "environment_id"
                     else "0190b8a4-0000-7000-8000-000000000000", path)
        other_scope = "evaluation:write" if "/dataset" in path else "dataset:write"
        for method in methods:
            assert (await client.request(method, url, json={})).status_code == 401, (method, path)
            assert (await client.request(method, url, headers=stranger.headers, json={})).status_code == 403
            refused = await client.request(method, url, headers=keys[other_scope], json={})
            assert refused.status_code == 403 and "scope" in refused.json()["detail"], (method, path)
            probed += 1
    assert probed >= 20
