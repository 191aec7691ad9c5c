"""Our OpenAPI document for the LLM analytics routes against a fixture transcribed from PostHog's reference:
every path and method, query parameter, request field and response field is there, so none can silently go
missing."""

import json
from pathlib import Path
from typing import Any

import httpx

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
