"""Helpers for the LLM analytics tests."""

import httpx

from tests.conftest import Caller


async def environment_with_key(client: httpx.AsyncClient, caller: Caller, scope: str, name: str = "tests"
                               ) -> tuple[str, dict[str, str]]:
    """A new environment of the caller's organization (its `/api/environments/{id}` base) and headers with a
    personal API key of the caller holding `scope`."""
    environment = await client.post(f"/v1/{caller.org_id}/llm_analytics/environments/", headers=caller.headers,
                                    json={"name": name})
    assert environment.status_code == 201, environment.text
    key = await client.post(f"/v1/{caller.org_id}/llm_analytics/api_keys/", headers=caller.headers,
                            json={"label": scope, "scopes": [scope]})
    assert key.status_code == 201, key.text
    return f"/api/environments/{environment.json()['id']}", {"Authorization": f"Bearer {key.json()['value']}"}
