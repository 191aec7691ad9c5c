"""Read-only SQL over one organization's data: results, limits, refusals, timeouts, snapshot freshness."""

import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from bson import ObjectId

from amigo_api.admin.sql.columns import arrow_table, collect
from amigo_api.app import create_app
from amigo_api.core.sql_tables import (
    BOOLEAN,
    FLOAT,
    INTEGER,
    JSON,
    TEXT,
    TEXT_LIST,
    TIMESTAMP,
    VERSION_NUMBER,
    Column,
    SqlTable,
    tables,
)
from tests.builders import ADMIN_DOCS, documented_query, new_service, sql_rows
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


async def _environment(client: httpx.AsyncClient, caller: Caller) -> tuple[int, str]:
    created = await client.post(f"/v1/{caller.org_id}/llm_analytics/environments/", headers=caller.headers,
                                json={"name": "sql"})
    assert created.status_code == 201, created.text
    return created.json()["id"], created.json()["api_token"]


async def _capture(client: httpx.AsyncClient, token: str, *events: dict[str, Any]) -> None:
    captured = await client.post("/batch/", json={"api_key": token, "batch": list(events)})
    assert captured.status_code == 200, captured.text


def _generation(uuid: str, day: int, properties: dict[str, Any]) -> dict[str, Any]:
    return {"event": "$ai_generation", "uuid": uuid, "distinct_id": "u1",
            "timestamp": f"2026-11-{day:02d}T10:00:00Z", "properties": properties}


async def _schema(client: httpx.AsyncClient, caller: Caller) -> dict[str, dict[str, str]]:
    response = await client.get(f"/v1/{caller.org_id}/admin/sql_schema", headers=caller.headers)
    assert response.status_code == 200, response.text
    return {t["name"]: {c["name"]: c["type"] for c in t["columns"]} for t in response.json()["tables"]}


async def test_column_types_are_declared_whatever_the_events_hold(client: httpx.AsyncClient, admin: Caller) -> None:
    environment_id, token = await _environment(client, admin)
    declared = await _schema(client, admin)
    assert declared["events"] == {"uuid": "VARCHAR", "event": "VARCHAR", "distinct_id": "VARCHAR",
                                  "properties": "JSON", "timestamp": "TIMESTAMP WITH TIME ZONE",
                                  "environment_id": "BIGINT", "created_at": "TIMESTAMP WITH TIME ZONE"}
    assert declared["tool_invocations"]["tool_version"] == "STRUCT(major BIGINT, minor BIGINT, patch BIGINT)"
    assert declared["tool_invocations"]["inputs"] == "JSON"
    query = ("SELECT uuid, json_extract_string(properties, '$.\"$ai_trace_id\"') AS trace_id, "
             "properties->>'$.\"$ai_model\"' AS model, properties FROM events "
             f"WHERE environment_id = {environment_id} ORDER BY timestamp")
    first = {"$ai_model": "gpt-a", "$ai_trace_id": "t1", "$ai_input_tokens": 3}
    await _capture(client, token, _generation("00000000-0000-4000-8000-000000000001", 1, first))
    assert await sql_rows(client, admin, query) == [
        {"uuid": "00000000-0000-4000-8000-000000000001", "trace_id": "t1", "model": "gpt-a", "properties": first}]

    # Other shapes: another key, a value of another type, nesting. The same query reads them all, and the
    # first event shows only its own keys.
    other = {"$ai_model": "gpt-b", "$ai_trace_id": "t2", "$ai_input_tokens": "12", "plan": "pro",
             "nested": {"list": [1, {"deep": None}], "empty": {}}}
    await _capture(client, token, _generation("00000000-0000-4000-8000-000000000002", 2, other),
                   _generation("00000000-0000-4000-8000-000000000003", 3, {"$ai_model": 7}))
    rows = await sql_rows(client, admin, query)
    assert [(r["trace_id"], r["model"]) for r in rows] == [("t1", "gpt-a"), ("t2", "gpt-b"), (None, "7")]
    assert [r["properties"] for r in rows] == [first, other, {"$ai_model": 7}]
    assert await _schema(client, admin) == declared


async def test_the_documented_llm_analytics_queries(client: httpx.AsyncClient, admin: Caller) -> None:
    _, token = await _environment(client, admin)
    generations = [("a", 1, "gpt-4o", "t1", 10, 5, 0.5), ("b", 1, "gpt-4o", "t1", "20", 7, 1.5),
                   ("c", 1, "claude", "t2", 3, 1, 4.0), ("d", 2, "gpt-4o", "t3", 1, 1, 0.25)]
    await _capture(client, token, *[
        _generation(f"00000000-0000-4000-8000-00000000000{uuid}", day,
                    {"$ai_model": model, "$ai_trace_id": trace, "$ai_input_tokens": tokens_in,
                     "$ai_output_tokens": tokens_out, "$ai_latency": latency})
        for uuid, day, model, trace, tokens_in, tokens_out, latency in generations],
        {"event": "$ai_trace", "distinct_id": "u1", "properties": {"$ai_trace_id": "t1", "$ai_latency": 99}})
    per_model = await sql_rows(client, admin, documented_query("Tokens and latency per model per day"))
    assert [(r["day"][:10], r["model"], r["generations"], r["input_tokens"], r["output_tokens"], r["mean_latency_s"])
            for r in per_model] == [("2026-11-01", "claude", 1, 3, 1, 4.0), ("2026-11-01", "gpt-4o", 2, 30, 12, 1.0),
                                    ("2026-11-02", "gpt-4o", 1, 1, 1, 0.25)]
    slowest = await sql_rows(client, admin, documented_query("The slowest traces"))
    assert [(r["trace_id"], r["generations"], r["latency_s"]) for r in slowest] == [
        ("t2", 1, 4.0), ("t1", 2, 2.0), ("t3", 1, 0.25)]
    assert slowest[0]["started_at"] == "2026-11-01T10:00:00+00:00"


def test_a_value_that_does_not_fit_its_column_reads_as_null() -> None:
    table = SqlTable("t", "c", {"id": Column(TEXT, "_id"), "n": INTEGER, "f": FLOAT, "b": BOOLEAN, "s": TEXT,
                                "at": TIMESTAMP, "names": TEXT_LIST, "j": JSON, "v": VERSION_NUMBER,
                                "deep": Column(INTEGER, "a.b")})
    at = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    oid = ObjectId()
    fitting = {"_id": oid, "n": 3, "f": 2, "b": False, "s": "x", "at": at.replace(tzinfo=None), "names": ["a"],
               "j": {"at": at, "id": oid, "n": [1, None]}, "v": {"major": 1, "minor": 2.0, "patch": 3, "x": 9},
               "a": {"b": 7}}
    unfitting = {"_id": 5, "n": True, "f": "1.5", "b": 1, "s": ["x"], "at": "2026-12-01", "names": "a",
                 "j": {"nan": float("nan")}, "v": {"major": "1"}, "a": {"b": 2**70}}
    columns: dict[str, list[Any]] = {name: [] for name in table.columns}
    collect(table, [fitting, unfitting, {}], columns)
    rows = arrow_table(table, columns).to_pylist()
    assert rows[0] == {"id": str(oid), "n": 3, "f": 2.0, "b": False, "s": "x", "at": at, "names": ["a"],
                       "j": f'{{"at":"{at.isoformat()}","id":"{oid}","n":[1,null]}}',
                       "v": {"major": 1, "minor": 2, "patch": 3}, "deep": 7}
    assert rows[1] == {"id": None, "n": None, "f": None, "b": None, "s": None, "at": None, "names": None,
                       "j": '{"nan":null}', "v": {"major": None, "minor": None, "patch": None}, "deep": None}
    assert set(rows[2].values()) == {None}


def test_the_tables_docs_admin_lists_are_the_registered_ones() -> None:
    tables_bullet = ADMIN_DOCS.read_text().split("- **Tables.**")[1].split("\n- ")[0]
    listed = set(re.findall(r"`([a-z_]+)`", tables_bullet.split("Today:")[1]))
    assert listed == {table.name for table in tables()}
