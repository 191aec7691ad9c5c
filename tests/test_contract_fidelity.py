"""What a real client of either contract relies on beyond the shapes: an id that names nothing is 404 whatever its
shape (Amigo), and PostHog's routing rules (optional trailing slash, 404 for malformed ids, lenient pagination)."""

import json
import re
from typing import Any
from urllib.parse import unquote

import httpx

from amigo_api.core.ids import OBJECT_ID_PATTERN
from tests.builders import AGENT_VERSION, state_machine_body
from tests.conftest import Caller

UNKNOWN_ID = "0123456789abcdef01234567"
MALFORMED_IDS = ["non-existent-id", "x", "$where", "0123456789ABCDEF01234567", "a" * 300, "%C3%A9t%C3%A9"]
OTHER_PATH_VALUES = {"version_set_name": "staging", "versions": ">=1", "version": "1.0.0"}
# A body each operation accepts, so that only the id decides the answer.
BODIES: dict[str, Any] = {
    "update-user-info": {"first_name": "X", "last_name": "Y"},
    "create-agent-version": AGENT_VERSION,
    "create-service-hierarchical-state-machine-version": state_machine_body(),
    "upsert-service-version-set": {"version_set": {"agent_version_number": 1, "llm_model_preferences": {},
                                                   "service_hierarchical_state_machine_version_number": 1}},
    "update-service": {"is_active": False},
    "modify-tool": {"description": "Changed."},
    "modify-tool-envvars": {"inserts": [], "updates": [], "deletes": []},
    "publish-tool-version": {"project_path": "tool", "bump_type": "major"},
    "invoke-tool-version": {"inputs": [{"input_parameters": {}, "invocation_mode": "regular",
                                        "nonsensitive_user_variables": {}, "sensitive_user_variables": {}}]},
}
QUERIES = {"get-sql-query-result": {"expires": "9999999999", "signature": "0" * 64}}


def _id_operations(spec: dict[str, Any]) -> list[tuple[str, str, str, list[str]]]:
    """(method, path, operationId, the ObjectId path parameters) of every Amigo operation that takes one."""
    found = []
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            ids = [p["name"] for p in operation.get("parameters", [])
                   if p["in"] == "path" and p["schema"].get("pattern") == OBJECT_ID_PATTERN]
            if ids:
                found.append((method, path, operation["operationId"], ids))
    return found


def _without(text: str, value: str | None) -> Any:
    """The answer, with the id it echoes taken out."""
    if value:
        text = re.sub(rf"(?<![\w$]){re.escape(json.dumps(value, ensure_ascii=False)[1:-1])}(?![\w$])", "<id>", text)
    return json.loads(text)


def _url(path: str, org_id: str, ids: list[str], value: str) -> str:
    values = {"organization": org_id, **OTHER_PATH_VALUES, **dict.fromkeys(ids, value)}
    return re.sub(r"\{(\w+)\}", lambda match: values[match.group(1)], path)


async def test_an_id_that_names_nothing_is_404_whatever_its_shape(client: httpx.AsyncClient, admin: Caller) -> None:
    spec = (await client.get("/openapi.json")).json()
    operations = _id_operations(spec)
    assert len(operations) >= 20, operations
    for method, path, operation_id, ids in operations:
        def call(value: str, method: str = method, path: str = path, operation_id: str = operation_id,
                 ids: list[str] = ids) -> Any:
            return client.request(method, _url(path, admin.org_id, ids, value), headers=admin.headers,
                                  json=BODIES.get(operation_id), params=QUERIES.get(operation_id))

        expected = await call(UNKNOWN_ID)
        if operation_id == "get-sql-query-result":
            assert expected.status_code == 403, expected.text  # a result URL is a capability: unsigned is refused
        else:
            assert expected.status_code == 404, (operation_id, expected.text)
        echoes = UNKNOWN_ID in expected.text  # `The agent <id> does not exist.`
        for malformed in MALFORMED_IDS:
            answer = await call(malformed)
            assert (answer.status_code, _without(answer.text, unquote(malformed) if echoes else None)) == \
                (expected.status_code, _without(expected.text, UNKNOWN_ID if echoes else None)), \
                (operation_id, malformed, answer.text)
    documented = {p["name"]: p["schema"] for op in spec["paths"]["/v1/{organization}/tool/{tool_id}"].values()
                  for p in op.get("parameters", []) if p["in"] == "path"}
    assert documented["tool_id"]["pattern"] == OBJECT_ID_PATTERN  # still documented as the contract does
