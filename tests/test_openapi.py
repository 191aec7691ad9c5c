"""The generated OpenAPI document names the contract's paths, methods and operationIds for what exists."""

import json
import re
from pathlib import Path

import httpx

# A copy of the contract (Amigo's public OpenAPI document, the subset this project implements).
CONTRACT = Path(__file__).resolve().parent / "data" / "amigo-openapi-subset.json"
IMPLEMENTED_TAGS = {"Organization", "User", "Role", "Service", "Simulation", "Admin"}
IMPLEMENTED_PATHS = {"/v1/{organization}/tool/git/{git_path}", "/v1/{organization}/tool/",
                     "/v1/{organization}/tool/{tool_id}", "/v1/{organization}/tool/{tool_id}/envvar",
                     "/v1/{organization}/tool/amigo_tool_scaffold.tar.gz", "/v1/{organization}/tool/{tool_id}/version",
                     "/v1/{organization}/tool/{tool_id}/version/{versions}", "/v1/{organization}/tool/test",
                     "/v1/{organization}/tool/invocation", "/v1/{organization}/tool/invocation/search",
                     "/v1/{organization}/tool/{tool_id}/version/{version}/invoke"}
# Our documented extensions of the contract, under the same tags.
EXTENSIONS = {"/v1/{organization}/admin/prompt_logs/", "/v1/{organization}/admin/sql_schema",
              "/v1/{organization}/admin/sql_query/{query_id}/result",
              # In the newer Amigo spec the official amigo-sdk follows, not in our reference subset.
              "/v1/{organization}/user/{user_id}", "/v1/{organization}/user/{user_id}/user_model"}


# Operations on the paths above that arrive with a later issue (the sandboxed runner).
LATER: set[str] = set()


def _implemented(path: str, operation: dict) -> bool:
    if path in EXTENSIONS or operation.get("operationId") in LATER:
        return False
    return bool(set(operation.get("tags", [])) & IMPLEMENTED_TAGS) or path in IMPLEMENTED_PATHS


def _operations(spec: dict) -> dict[tuple[str, str], str]:
    return {(path, method): operation["operationId"] for path, methods in spec["paths"].items()
            for method, operation in methods.items() if _implemented(path, operation)}


async def test_operation_ids_and_documented_statuses_match_the_contract(client: httpx.AsyncClient) -> None:
    ours = (await client.get("/openapi.json")).json()
    contract = json.loads(CONTRACT.read_text())
    expected = _operations(contract)
    assert len(expected) == 50, "the contract lists operations for these tags"
    assert _operations(ours) == expected
    for path, method in expected:
        documented = set(contract["paths"][path][method]["responses"])
        assert documented <= set(ours["paths"][path][method]["responses"]), (path, method)


async def test_the_reference_works_offline_and_the_root_points_to_it(client: httpx.AsyncClient) -> None:
    assert (await client.get("/")).json()["docs"] == "/docs"
    for page in ("/docs", "/redoc"):
        html = (await client.get(page)).text
        assert "cdn." not in html and "unpkg" not in html, page
        assets = [a for a in re.findall(r'(?:src|href)="([^"]+)"', html) if a.startswith("/")]
        assert assets, page
        for asset in assets:
            assert (await client.get(asset)).status_code == 200, asset
