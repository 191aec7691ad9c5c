"""Read-only SQL over one organization's data: results, limits, refusals, timeouts, snapshot freshness."""

from typing import Any

import httpx
import pytest

from amigo_api.app import create_app
from tests.builders import new_service
from tests.conftest import Caller, make_settings


async def _sql(client: httpx.AsyncClient, caller: Caller, query: str) -> httpx.Response:
    return await client.post(f"/v1/{caller.org_id}/admin/sql_query", headers=caller.headers,
                             json={"sql_query": query, "async_query": False})


async def test_queries_read_the_organizations_tables(client: httpx.AsyncClient, admin: Caller) -> None:
    await new_service(client, admin, "Beta", tags={"team": "a"})
    await new_service(client, admin, "Alpha", is_active=False)
    response = await _sql(client, admin, "SELECT name, is_active, tags, created_at FROM services ORDER BY name")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["columns"][:2] == [{"name": "name", "type": "VARCHAR"}, {"name": "is_active", "type": "BOOLEAN"}]
    assert body["columns"][3]["type"].startswith("TIMESTAMP")
    assert [row[:2] for row in body["result"]] == [["Alpha", False], ["Beta", True]]
    assert body["result"][1][2] == [{"key": "team", "value": "a"}]
    assert body["result"][0][3].startswith("20") and "T" in body["result"][0][3]
    assert body["truncated"] is False and isinstance(body["execution_time_ms"], int)

    joined = await _sql(client, admin, "SELECT s.name, a.name AS agent, v.version FROM services s "
                                       "JOIN agents a ON a.agent_id = s.agent_id "
                                       "JOIN agent_versions v ON v.agent_id = a.agent_id ORDER BY s.name")
    assert joined.json()["result"] == [["Alpha", "agent for Alpha", 1], ["Beta", "agent for Beta", 1]]
    capped = (await _sql(client, admin, "SELECT * FROM range(1500)")).json()
    assert capped["truncated"] is True and len(capped["result"]) == 1000
    users = (await _sql(client, admin, "SELECT email FROM users ORDER BY email")).json()["result"]
    assert ["admin@amigo.ai"] in users


async def test_only_this_organizations_rows_and_no_secrets(client: httpx.AsyncClient, admin: Caller,
                                                            make_caller) -> None:  # type: ignore[no-untyped-def]
    await new_service(client, admin, "Mine")
    other: Caller = await make_caller(f"sqlother{admin.org_id[-6:]}")
    await new_service(client, other, "Theirs")
    mine = (await _sql(client, admin, "SELECT name FROM services")).json()["result"]
    assert mine == [["Mine"]]
    assert (await _sql(client, admin, f"SELECT count(*) FROM users WHERE email LIKE '%{other.org_id}%'")
            ).json()["result"] == [[0]]
    for secret in ("SELECT sensitive_variables FROM users", "SELECT * FROM api_keys", "SELECT key_hash FROM users"):
        refused = await _sql(client, admin, secret)
        assert refused.status_code == 400, secret
    columns = {c["name"] for c in (await _sql(client, admin, "SELECT * FROM users")).json()["columns"]}
    assert "sensitive_variables" not in columns and "email" in columns


ESCAPES = [
    "INSERT INTO services VALUES (1)", "UPDATE services SET name = 'x'", "DELETE FROM services",
    "DROP TABLE services", "CREATE TABLE t AS SELECT 1", "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM '/etc/passwd'", "ATTACH '/tmp/other.db' AS other", "SET threads = 64",
    "COPY services TO '/tmp/out.csv'", "PRAGMA database_list", "SELECT 1; SELECT 2", "SELECT getenv('HOME')",
    "INSTALL httpfs", "LOAD httpfs", "SELECT * FROM read_parquet('https://example.com/x.parquet')",
    "SELECT * FROM query('SELECT 1')", "SELECT * FROM duckdb_settings()", "SELECT current_setting('threads')",
    "SELECT * INTO copy_of_services FROM services", "CALL pragma_version()", "SELECT * FROM other.services",
    "DESCRIBE services", "SELECT * FROM glob('/etc/*')",
]


@pytest.mark.parametrize("query", ESCAPES)
async def test_attempts_to_leave_the_sandbox_are_refused(client: httpx.AsyncClient, admin: Caller,
                                                         query: str) -> None:
    response = await _sql(client, admin, query)
    assert response.status_code == 400, (query, response.text)
    assert response.json()["error_code"] in ("sql_refused", "sql_query_failed")


async def test_privileges_validation_and_limits(client: httpx.AsyncClient, admin: Caller, make_caller) -> None:  # type: ignore[no-untyped-def]
    administrator: Caller = await make_caller(admin.org_id, "DefaultAdministratorRole")
    assert (await _sql(client, administrator, "SELECT 1")).status_code == 403
    amigo_admin: Caller = await make_caller(admin.org_id, "DefaultAmigoAdministratorRole")
    response = await _sql(client, amigo_admin, "SELECT 1")
    assert response.status_code == 200 and response.headers["X-RateLimit-Limit"] == "60"
    assert (await client.post(f"/v1/{admin.org_id}/admin/sql_query", headers=admin.headers,
                              json={"sql_query": "", "async_query": False})).status_code == 422
    broken = await _sql(client, admin, "SELEC 1")
    assert broken.status_code == 400 and "invalid" in broken.json()["detail"]
    failing = await _sql(client, admin, "SELECT CAST('x' AS INTEGER)")
    assert failing.status_code == 400 and failing.json()["error_code"] == "sql_query_failed"
    schema = (await client.get(f"/v1/{admin.org_id}/admin/sql_schema", headers=admin.headers)).json()
    tables = {t["name"]: {c["name"] for c in t["columns"]} for t in schema["tables"]}
    assert {"services", "agents", "agent_versions", "service_hierarchical_state_machines",
            "service_hierarchical_state_machine_versions", "users", "roles", "prompt_logs"} <= set(tables)
    assert "sensitive_variables" not in tables["users"] and "log_key" in tables["prompt_logs"]


async def test_snapshots_refresh_after_writes_and_are_reused_without(client: httpx.AsyncClient, admin: Caller,
                                                                      app: Any) -> None:
    await new_service(client, admin, "First")
    assert (await _sql(client, admin, "SELECT count(*) FROM services")).json()["result"] == [[1]]
    cached = app.state.sql_snapshots._orgs[admin.org_id]["services"]
    assert (await _sql(client, admin, "SELECT count(*) FROM services")).json()["result"] == [[1]]
    assert app.state.sql_snapshots._orgs[admin.org_id]["services"] is cached  # no write: the same snapshot
    await new_service(client, admin, "Second")
    assert (await _sql(client, admin, "SELECT count(*) FROM services")).json()["result"] == [[2]]


async def test_slow_queries_time_out_and_the_endpoint_can_be_disabled(mongo_server: str, secret_key: str,
                                                                      make_caller, new_org_id: str) -> None:  # type: ignore[no-untyped-def]
    caller: Caller = await make_caller(new_org_id)
    slow = "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 1000000000) " \
           "SELECT count(*) FROM t"
    for overrides, expected in (({"sql_timeout_seconds": 1.0}, 408), ({"sql_enabled": False}, 400)):
        app = create_app(make_settings(mongo_server, secret_key, **overrides))
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            response = await _sql(http, caller, slow)
            assert response.status_code == expected, response.text
    assert response.json()["detail"] == "This endpoint is not supported in the current environment."


async def test_malformed_result_url_signatures_are_403(client: httpx.AsyncClient, admin: Caller) -> None:
    base = f"/v1/{admin.org_id}/admin/sql_query/{'a' * 24}/result"
    for signature in ("%C3%A9", "%00", "%FF", "\u00e9" * 64, "x" * 64, "%ED%A0%80"):
        response = await client.get(f"{base}?signature={signature}&expires=1")
        assert response.status_code == 403, (signature, response.text)


async def test_answers_are_bounded_by_bytes_as_well_as_rows(client: httpx.AsyncClient, admin: Caller,
                                                            settings: object) -> None:
    limit = settings.sql_max_result_bytes  # type: ignore[attr-defined]
    response = await _sql(client, admin, "SELECT repeat('a', 1000000) AS big FROM range(1000)")
    assert response.status_code == 200, response.text[:200]
    body = response.json()
    assert body["truncated"] is True
    assert 0 < len(body["result"]) < 1000
    assert len(response.content) <= limit + 1_000_100
    small = (await _sql(client, admin, "SELECT repeat('a', 10) FROM range(5)")).json()
    assert small["truncated"] is False and len(small["result"]) == 5
