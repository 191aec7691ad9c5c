"""Our answers carry every field the official `amigo-sdk` requires: for each operation both sides have, each
property the SDK's generated response model requires (at every depth) is in our documented response schema; and
live answers that carry our extensions still parse with the SDK's models."""

from typing import Any

import httpx
import pytest
from amigo_sdk.generated import model as sdk_models
from pydantic import BaseModel, ValidationError

from tests.conftest import Caller
from tests.toolstack import Stack, Workspace, create_tool, publish

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


async def test_the_sdk_parses_the_invocation_history_after_a_direct_invoke(
        stack: Stack, http: httpx.AsyncClient, admin: Caller, workspace: Workspace) -> None:
    tool_id = await create_tool(http, admin, "history")
    workspace.add_scaffold("history")
    workspace.write("history/NOTES.md", "Its own tree, so that its build is its own.\n")
    workspace.push("The history tool")
    assert (await publish(http, admin, tool_id, "history")).status_code == 201
    invoked = await http.post(f"/v1/{admin.org_id}/tool/{tool_id}/version/1.0.0/invoke", headers=admin.headers,
                              json={"inputs": [{"input_parameters": {"name": "Ada"}, "invocation_mode": "regular",
                                                "nonsensitive_user_variables": {}, "sensitive_user_variables": {}}]})
    assert invoked.status_code == 200, invoked.text
    base = f"/v1/{admin.org_id}/tool/invocation"
    search = {"query": "Ada", "query_against": ["invocation_status.output"]}
    listed = await http.get(base, headers=admin.headers)
    found = await http.get(f"{base}/search", headers=admin.headers, params=search)
    assert listed.status_code == found.status_code == 200
    sdk_models.ToolGetToolInvocationsResponse.model_validate(listed.json())
    sdk_models.ToolSearchToolInvocationsResponse.model_validate(found.json())
    # Direct invokes are recorded with our extension's source, which the SDK's models do not have: they are
    # returned only to a caller who asks for them by name, which the SDK never does.
    direct = {"invocation_source_type": ["api-invocation"]}
    extension = await http.get(base, headers=admin.headers, params=direct)
    [record] = extension.json()["tool_invocations"]
    assert record["invocation_source"] == {"type": "api-invocation", "user_id": admin.user_id}
    with pytest.raises(ValidationError):
        sdk_models.ToolGetToolInvocationsResponse.model_validate(extension.json())
    searched = await http.get(f"{base}/search", headers=admin.headers, params={**search, **direct})
    assert [r["id"] for r in searched.json()["tool_invocations"]] == [record["id"]]
