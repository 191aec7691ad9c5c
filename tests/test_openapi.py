"""The generated OpenAPI document names the contract's paths, methods and operationIds for what exists."""

import json
from pathlib import Path

import httpx

CONTRACT = Path(__file__).resolve().parents[2] / "shared" / "reference" / "amigo-openapi-subset.json"
IMPLEMENTED_TAGS = {"Organization", "User", "Role", "Service", "Simulation", "Admin"}
NOT_YET = {"/v1/{organization}/admin/get_prompt_logs/", "/v1/{organization}/admin/sql_query"}


def _operations(spec: dict, tags: set[str]) -> dict[tuple[str, str], str]:
    found = {}
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            if set(operation.get("tags", [])) & tags and path not in NOT_YET:
                found[(path, method)] = operation["operationId"]
    return found


async def test_operation_ids_and_documented_statuses_match_the_contract(client: httpx.AsyncClient) -> None:
    ours = (await client.get("/openapi.json")).json()
    contract = json.loads(CONTRACT.read_text())
    expected = _operations(contract, IMPLEMENTED_TAGS)
    assert len(expected) == 33, "the contract lists operations for these tags"
    assert _operations(ours, IMPLEMENTED_TAGS) == expected
    for path, method in expected:
        documented = set(contract["paths"][path][method]["responses"])
        assert documented <= set(ours["paths"][path][method]["responses"]), (path, method)
