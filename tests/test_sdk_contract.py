"""Our answers carry every field the official `amigo-sdk` requires: for each operation both sides have, each
property the SDK's generated response model requires (at every depth) is in our documented response schema."""

from typing import Any

import httpx
from amigo_sdk.generated import model as sdk_models
from pydantic import BaseModel

SUCCESS = ("200", "201")


def _sdk_model(tag: str, operation_id: str) -> type[BaseModel] | None:
    name = tag + "".join(word.capitalize() for word in operation_id.split("-")) + "Response"
    found = getattr(sdk_models, name, None)
    return found if isinstance(found, type) and issubclass(found, BaseModel) else None


def _resolve(schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = definitions[schema["$ref"].rsplit("/", 1)[1]]
    branches = [b for b in schema.get("anyOf", schema.get("oneOf", [])) if b.get("type") != "null"]
    return _resolve(branches[0], definitions) if len(branches) == 1 else schema


def _missing(sdk: dict[str, Any], ours: dict[str, Any], sdk_defs: dict[str, Any], our_defs: dict[str, Any],
             where: str, depth: int = 0) -> list[str]:
    sdk, ours = _resolve(sdk, sdk_defs), _resolve(ours, our_defs)
    if depth > 8:
        return []
    if sdk.get("type") == "array" and ours.get("type") == "array":
        return _missing(sdk.get("items", {}), ours.get("items", {}), sdk_defs, our_defs, f"{where}[]", depth + 1)
    if "properties" not in sdk or "properties" not in ours:
        return []
    problems = []
    for name in sdk.get("required", []):
        if name not in ours["properties"]:
            problems.append(f"{where}.{name}")
            continue
        problems += _missing(sdk["properties"][name], ours["properties"][name], sdk_defs, our_defs,
                             f"{where}.{name}", depth + 1)
    return problems


async def test_every_field_the_sdk_requires_is_in_our_answers(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    our_defs = spec["components"]["schemas"]
    checked, problems = [], []
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            sdk_model = _sdk_model(operation.get("tags", [""])[0], operation["operationId"])
            success = next((operation["responses"][code] for code in SUCCESS if code in operation["responses"]), None)
            content = (success or {}).get("content", {}).get("application/json")
            if sdk_model is None or content is None:
                continue
            sdk_schema = sdk_model.model_json_schema()
            checked.append(operation["operationId"])
            problems += _missing(sdk_schema, content["schema"], sdk_schema.get("$defs", {}), our_defs,
                                 f"{method.upper()} {path}")
    assert len(checked) >= 20, checked
    assert {"get-users", "get-organization", "get-services", "get-agents", "get-user-model"} <= set(checked)
    assert not problems, "\n".join(problems)
