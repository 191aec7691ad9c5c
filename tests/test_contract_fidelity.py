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


# --- PostHog's routing rules ------------------------------------------------------------------------------------

UNKNOWN_UUID = "0192d3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d"
POSTHOG_AREAS = ("/api/", "/v1/{organization}/llm_analytics/", "/batch/", "/capture/", "/e/", "/i/")
# Whole bodies for PUT, so that only the id decides the answer.
REPLACEMENTS = {"datasets": {"name": "replaced"}, "dataset_items": {},
                "evaluations": {"name": "helpful", "evaluation_type": "llm_judge", "output_type": "boolean",
                                "evaluation_config": {"prompt": "Is the answer helpful?"}, "output_config": {}}}


def _posthog_operations(spec: dict[str, Any]) -> list[tuple[str, str]]:
    return [(method, path) for path, methods in spec["paths"].items() for method in methods
            if path.startswith(POSTHOG_AREAS)]


def _fill(path: str, org_id: str, environment_id: int, identifier: str = UNKNOWN_UUID) -> str:
    values = {"organization": org_id, "environment_id": str(environment_id)}
    return re.sub(r"\{(\w+)\}", lambda match: values.get(match.group(1), identifier), path)


def _toggled(url: str) -> str:
    return url.removesuffix("/") if url.endswith("/") else f"{url}/"


async def test_posthog_routes_answer_with_or_without_the_trailing_slash(client: httpx.AsyncClient,
                                                                        admin: Caller) -> None:
    spec = (await client.get("/openapi.json")).json()
    environment = await _environment(client, admin)
    operations = _posthog_operations(spec)
    assert len(operations) >= 17 + 5 + 6, operations
    for method, path in operations:
        for base in ("/api/environments/", "/api/projects/") if path.startswith("/api/") else ("",):
            declared = _fill(path.replace("/api/environments/", base) if base else path, admin.org_id,
                             environment["id"])
            body = {} if method in ("post", "put", "patch") else None
            answers = [await client.request(method, url, headers=admin.headers, json=body)
                       for url in (declared, _toggled(declared))]
            statuses = [answer.status_code for answer in answers]
            assert statuses[0] == statuses[1] and not 300 <= statuses[0] < 400, (method, declared, statuses)
            assert statuses[0] != 404 or "dataset" in path or "evaluation" in path or "key" in path, \
                (method, declared, answers[0].text)


async def test_a_malformed_id_in_a_posthog_path_is_404(client: httpx.AsyncClient, admin: Caller) -> None:
    spec = (await client.get("/openapi.json")).json()
    environment = await _environment(client, admin)
    with_ids = [(method, path) for method, path in _posthog_operations(spec)
                if path.startswith("/api/") and re.search(r"\{(dataset_id|item_id|evaluation_id|key_id)\}", path)
                and method != "delete" or path.endswith("provider_keys/{key_id}/")]
    assert len(with_ids) >= 11, with_ids
    for method, path in with_ids:
        body = REPLACEMENTS[path.split("/")[4]] if method == "put" else {} if method == "patch" else None
        unknown = await client.request(method, _fill(path, admin.org_id, environment["id"]), headers=admin.headers,
                                       json=body)
        assert unknown.status_code == 404, (method, path, unknown.text)
        for malformed in ("not-a-uuid", "123", "%24ne"):
            answer = await client.request(method, _fill(path, admin.org_id, environment["id"], malformed),
                                          headers=admin.headers, json=body)
            assert (answer.status_code, answer.json()) == (404, unknown.json()), (method, path, malformed)


async def test_lists_read_limit_and_offset_as_limit_offset_pagination(client: httpx.AsyncClient,
                                                                      admin: Caller) -> None:
    environment = await _environment(client, admin)
    url = f"/api/environments/{environment['id']}/datasets/"
    for name in ("one", "two", "three"):
        created = await client.post(url, headers=admin.headers, json={"name": name})
        assert created.status_code == 201, created.text

    async def names(**params: str) -> tuple[list[str], dict[str, Any]]:
        answer = await client.get(url, headers=admin.headers, params=params)
        assert answer.status_code == 200, (params, answer.text)
        body: dict[str, Any] = answer.json()
        return [dataset["name"] for dataset in body["results"]], body

    everything = ["three", "two", "one"]
    assert (await names())[0] == everything
    for invalid in ("0", "abc", "-1", "", "1.5", "9" * 5000):  # DRF falls back to the page size
        assert (await names(limit=invalid))[0] == everything, invalid
    for invalid in ("-1", "abc", ""):
        assert (await names(offset=invalid))[0] == everything, invalid
    first, page = await names(limit="1")
    assert first == ["three"] and page["count"] == 3 and "limit=1" in page["next"] and "offset=1" in page["next"]
    last, page = await names(limit="100000", offset="2")
    assert last == ["one"] and "limit=1000" in page["previous"]  # at most MAX_LIMIT
    assert (await names(offset="99999999999999999999"))[0] == []


async def _environment(client: httpx.AsyncClient, caller: Caller) -> dict[str, Any]:
    created = await client.post(f"/v1/{caller.org_id}/llm_analytics/environments/", headers=caller.headers,
                                json={"name": "routing"})
    assert created.status_code == 201, created.text
    environment: dict[str, Any] = created.json()
    return environment
