"""test-tool, invoke-tool-version and the invocation history through HTTP on the embedded stack with a real
worker: versions by exact number and by specifier, inputs checked against the schema, user variables in the
context (never the environment, sensitive ones never stored), visibility, filters, paging and search."""

import asyncio
import json
import os
from typing import Any

import httpx
from pymongo import MongoClient

from tests.builders import documented_query, sql_rows
from tests.conftest import Caller
from tests.toolstack import Stack, Workspace, create_tool, kill_worker_mid_run, publish

ECHO = '''import json, os, time
from pydantic import BaseModel, Field

RUNTIME = {"PATH", "HOME", "TMPDIR", "LANG", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "LC_CTYPE", "PWD"}


class Input(BaseModel):
    text: str = Field(max_length=50)
    count: int = 1


class Context(BaseModel):
    invocation_mode: str = "regular"
    nonsensitive_user_variables: dict[str, str] = {}
    sensitive_user_variables: dict[str, str] = {}


def run(tool_input: Input, context: Context) -> str:
    if tool_input.text == "boom":
        raise RuntimeError("boom in " + context.invocation_mode)
    if tool_input.text == "sleep":
        time.sleep(30)
    return json.dumps({"text": tool_input.text * tool_input.count, "mode": context.invocation_mode,
                       "user": context.nonsensitive_user_variables,
                       "secrets_seen": sorted(context.sensitive_user_variables),
                       "secret_length": sum(map(len, context.sensitive_user_variables.values())),
                       "env": sorted(k for k in os.environ if k not in RUNTIME),
                       "region": os.environ.get("REGION"), "token": os.environ.get("TOKEN"), "release": "one"})
'''
PYPROJECT = '''[project]
name = "echo"
version = "0"
requires-python = ">=3.11"
dependencies = ["pydantic>=2"]

[project.optional-dependencies]
test = ["pytest>=8"]

[tool.amigo]
entrypoint = "tool:run"
envvars = ["REGION"]
secret_envvars = ["TOKEN"]

[tool.pytest.ini_options]
pythonpath = ["."]
'''
TESTS = '''from tool import Context, Input, run


def test_echoes() -> None:
    assert '"text": "aa"' in run(Input(text="a", count=2), Context())
'''
SECRET = "s3cr3t-user-value"
# Direct invokes are recorded as `api-invocation`, our extension: listed only when asked for by name.
DIRECT = {"invocation_source_type": ["api-invocation"]}


def _add_echo(workspace: Workspace, project: str) -> None:
    workspace.write(f"{project}/tool.py", ECHO)
    workspace.write(f"{project}/pyproject.toml", PYPROJECT)
    workspace.write(f"{project}/tests/test_tool.py", TESTS)


def _input(text: str, **extra: Any) -> dict[str, Any]:
    return {"input_parameters": {"text": text, **extra}, "invocation_mode": "regular",
            "nonsensitive_user_variables": {"title": "Dr"}, "sensitive_user_variables": {"password": SECRET}}


async def _invoke(http: httpx.AsyncClient, caller: Caller, tool_id: str, version: str, *inputs: dict[str, Any]
                  ) -> httpx.Response:
    return await http.post(f"/v1/{caller.org_id}/tool/{tool_id}/version/{version}/invoke", headers=caller.headers,
                           json={"inputs": list(inputs)})


async def _echo_tool(http: httpx.AsyncClient, admin: Caller, workspace: Workspace, name: str) -> str:
    tool_id = await create_tool(http, admin, name, REGION=("eu-west", False), TOKEN=("tool-token", True))
    _add_echo(workspace, name)
    workspace.push(f"The {name} tool")
    response = await publish(http, admin, tool_id, name)
    assert response.status_code == 201, response.text
    return tool_id


async def test_invoke_by_version_and_specifier(stack: Stack, http: httpx.AsyncClient, admin: Caller,
                                               workspace: Workspace, make_caller, new_org_id: str  # type: ignore[no-untyped-def]
                                               ) -> None:
    tool_id = await _echo_tool(http, admin, workspace, "echo")
    workspace.edit("echo/tool.py", '"release": "one"', '"release": "two"')
    workspace.push("Release two")
    assert (await publish(http, admin, tool_id, "echo", "minor")).json() == {"new_version": "1.1.0"}

    response = await _invoke(http, admin, tool_id, "1.0.0", _input("a", count=3), _input("boom"))
    assert response.status_code == 200, response.text
    ok, failed = response.json()["invocation_results"]
    output = json.loads(ok["output"])
    assert ok["succeeded"] is True and output["release"] == "one" and output["text"] == "aaa"
    assert output["mode"] == "regular" and output["user"] == {"title": "Dr"} and output["secrets_seen"] == ["password"]
    assert output["secret_length"] == len(SECRET)
    assert output["env"] == ["REGION", "TOKEN"]  # the tool's variables only: no user variable, nothing of ours
    assert output["region"] == "eu-west" and output["token"] == "tool-token"
    assert failed["succeeded"] is False and failed["exception_type"] == "RuntimeError"
    assert failed["exception_message"] == "boom in regular"
    assert failed["exception_stack_trace"][-1].startswith('File "tool.py", line')

    latest = await _invoke(http, admin, tool_id, ">=1,<2", _input("b"))
    assert json.loads(latest.json()["invocation_results"][0]["output"])["release"] == "two"
    assert (await http.delete(f"/v1/{admin.org_id}/tool/{tool_id}/version/==1.1.0",
                              headers=admin.headers)).status_code == 204
    fallback = await _invoke(http, admin, tool_id, ">=1", _input("c"))
    assert json.loads(fallback.json()["invocation_results"][0]["output"])["release"] == "one"
    for gone in ("1.1.0", "==1.1.0", "2.0.0", ">=2"):
        missing = await _invoke(http, admin, tool_id, gone, _input("d"))
        assert missing.status_code == 404 and missing.json()["error_code"] == "tool_version_not_found", gone
    assert (await _invoke(http, admin, tool_id, "=>nonsense", _input("d"))).status_code == 422

    bad = await _invoke(http, admin, tool_id, "1.0.0", _input("e"), {**_input("f"), "input_parameters": {"count": 2}})
    assert bad.status_code == 400 and bad.json()["error_code"] == "invalid_tool_input"
    assert bad.json()["detail"].startswith("inputs[1].input_parameters")
    too_long = await _invoke(http, admin, tool_id, "1.0.0", _input("x" * 51))
    assert too_long.status_code == 400 and "inputs[0].input_parameters.text" in too_long.json()["detail"]
    for body in ({"inputs": []}, {"inputs": [_input("a")] * 11},
                 {"inputs": [{**_input("a"), "invocation_mode": {"$ne": ""}}]},
                 {"inputs": [{**_input("a"), "sensitive_user_variables": {f"v{i}": "x" for i in range(21)}}]}):
        response = await http.post(f"/v1/{admin.org_id}/tool/{tool_id}/version/1.0.0/invoke",
                                   headers=admin.headers, json=body)
        assert response.status_code == 422, body

    stranger: Caller = await make_caller(f"{new_org_id}z")
    theirs = await _invoke(http, stranger, tool_id, "1.0.0", _input("a"))
    assert theirs.status_code == 404

    # Sensitive user variables are nowhere in what was stored.
    client: MongoClient[dict[str, Any]] = MongoClient(stack.env["AMIGO_MONGO_URI"])
    try:
        database = client[os.environ["AMIGO_DATABASE_NAME"]]
        stored = list(database["tool_invocations"].find({"org_id": admin.org_id, "tool_id": tool_id}))
        assert len(stored) == 4
        assert SECRET not in json.dumps(stored, default=str)
    finally:
        client.close()
    sql = await http.post(f"/v1/{admin.org_id}/admin/sql_query", headers=admin.headers, json={
        "sql_query": f"select * from tool_invocations where tool_id = '{tool_id}'", "async_query": False})
    assert sql.status_code == 200 and len(sql.json()["result"]) == 4, sql.text
    assert "input_parameters" not in sql.text and '"text"' in sql.text and SECRET not in sql.text


async def test_test_tool_on_a_branch(stack: Stack, http: httpx.AsyncClient, admin: Caller, workspace: Workspace,
                                     make_role_caller) -> None:  # type: ignore[no-untyped-def]
    from tests.gitcli import git
    git(workspace.path, "checkout", "-q", "-b", "feature")
    _add_echo(workspace, "trial")
    workspace.push("On a branch")
    url = f"/v1/{admin.org_id}/tool/test"
    body: dict[str, Any] = {"inputs": [_input("t", count=2)], "commit_branch": "feature", "project_path": "trial",
                            "required_envvars": {"REGION": "test-region"},
                            "required_secret_envvars": {"TOKEN": "test-token"}}
    response = await http.post(url, headers=admin.headers, json=body)
    assert response.status_code == 200, response.text
    output = json.loads(response.json()["invocation_results"][0]["output"])
    assert output["text"] == "tt" and output["region"] == "test-region" and output["token"] == "test-token"

    async def refused(changes: dict[str, Any], status: int, code: str) -> None:
        answer = await http.post(url, headers=admin.headers, json={**body, **changes})
        assert answer.status_code == status and answer.json()["error_code"] == code, (changes, answer.text)

    await refused({"required_envvars": {"REGION": "x", "TOKEN": "y"}}, 400, "envvar_secret_and_plain")
    await refused({"required_secret_envvars": {}}, 400, "envvars_missing")
    await refused({"inputs": [_input("t", count="many")]}, 400, "invalid_tool_input")
    await refused({"commit_branch": "nowhere"}, 404, "ref_not_found")
    await refused({"project_path": "elsewhere"}, 404, "path_not_found")
    await refused({"project_path": "trial/tests"}, 404, "project_not_found")
    workspace.write("trial/tests/test_tool.py", TESTS.replace('"aa"', '"zz"'))
    workspace.push("A failing test")
    await refused({}, 400, "tool_checks_failed")
    workspace.edit("trial/pyproject.toml", '"pydantic>=2"', '"pydantic>=2", "not-in-any-index>=1"')
    workspace.push("An unbuildable dependency")
    await refused({}, 400, "tool_build_failed")

    reader: Caller = await make_role_caller(admin, "NoRepo", [{"permission_name": "Tool:InvokeTool",
                                                               "conditions": {}}])
    assert (await http.post(url, headers=reader.headers, json=body)).status_code == 403

    listed = await http.get(f"/v1/{admin.org_id}/tool/invocation", headers=admin.headers, params=DIRECT)
    assert listed.status_code == 200 and listed.json()["tool_invocations"] == []  # test runs are not recorded


async def test_history_filters_sorting_paging_visibility_and_search(
        stack: Stack, http: httpx.AsyncClient, admin: Caller, workspace: Workspace,
        make_role_caller) -> None:  # type: ignore[no-untyped-def]
    first = await _echo_tool(http, admin, workspace, "first")
    second = await _echo_tool(http, admin, workspace, "second")
    await http.post(f"/v1/{admin.org_id}/tool/{second}", headers=admin.headers, json={"tags": {"team": "b"}})
    assert (await _invoke(http, admin, first, "1.0.0", _input("a.*(b"), _input("boom"))).status_code == 200
    assert (await _invoke(http, admin, second, "1", _input("plain"))).status_code == 200
    base = f"/v1/{admin.org_id}/tool/invocation"

    async def listed(caller: Caller = admin, **params: Any) -> dict[str, Any]:
        response = await http.get(base, headers=caller.headers, params={**DIRECT, **params})
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    # By default only the contract's sources (conversations, simulations), which the official SDK can parse.
    assert (await listed(invocation_source_type=[]))["tool_invocations"] == []
    everything = await listed()
    assert len(everything["tool_invocations"]) == 3
    created = [i["created_at"] for i in everything["tool_invocations"]]
    assert created == sorted(created, reverse=True)  # newest first
    sample = everything["tool_invocations"][0]
    assert sample["invocation_source"] == {"type": "api-invocation", "user_id": admin.user_id}
    assert sample["tool_version"] == {"major": 1, "minor": 0, "patch": 0}
    assert {i["tool_id"] for i in (await listed(tool_id=[first]))["tool_invocations"]} == {first}
    assert len((await listed(tool_id=[first, second], version=["==1.0.0", ">=2"]))["tool_invocations"]) == 2
    mismatch = await http.get(base, headers=admin.headers, params={**DIRECT, "tool_id": [first, second],
                                                                   "version": ["==1"]})
    assert mismatch.status_code == 400 and mismatch.json()["error_code"] == "tool_version_length_mismatch"
    assert len((await listed(succeeded=False))["tool_invocations"]) == 1
    assert len((await listed(invocation_source_type=["regular-conversation"]))["tool_invocations"]) == 0
    assert len((await listed(invocation_source_type=["regular-conversation", "api-invocation"]))[
        "tool_invocations"]) == 3
    by_success = (await listed(sort_by=["+invocation_status.succeeded"]))["tool_invocations"]
    assert [i["invocation_status"]["succeeded"] for i in by_success] == [False, True, True]
    page = await listed(limit=2)
    assert len(page["tool_invocations"]) == 2 and page["has_more"] and page["continuation_token"] == 2
    rest = await listed(limit=2, continuation_token=2)
    assert len(rest["tool_invocations"]) == 1 and not rest["has_more"]
    empty = await listed(limit=0)
    assert empty["tool_invocations"] == [] and empty["has_more"]
    assert (await http.get(base, headers=admin.headers, params={"sort_by": "name"})).status_code == 422

    team_b: Caller = await make_role_caller(admin, "TeamBInvoker", [{"permission_name": "Tool:InvokeTool",
                                                                     "conditions": {"tags": {"type": "Equals",
                                                                                             "value": "team:b"}}}])
    assert {i["tool_id"] for i in (await listed(team_b))["tool_invocations"]} == {second}

    search = f"{base}/search"

    async def searched(query: str, *fields: str, caller: Caller = admin) -> list[dict[str, Any]]:
        response = await http.get(search, headers=caller.headers, params={**DIRECT, "query": query,
                                                                          "query_against": fields})
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["tool_invocations"]
        return found

    assert len(await searched(".*(", "invocation_status.output")) == 1  # literally, not as a pattern
    assert len(await searched("A.*(B", "invocation_status.output")) == 1  # case-insensitive
    assert len(await searched("runtimeerror", "invocation_status.exception_type")) == 1
    assert len(await searched("tool.py", "invocation_status.exception_stack_trace")) == 1
    assert await searched(".*", "invocation_status.exception_message") == []
    assert await searched("boom", "invocation_status.exception_message", caller=team_b) == []
    assert len(await searched("boom", "invocation_status.exception_message")) == 1
    default = await http.get(search, headers=admin.headers, params={
        "query": "boom", "query_against": "invocation_status.exception_message"})
    assert default.status_code == 200 and default.json()["tool_invocations"] == []
    missing_fields = await http.get(search, headers=admin.headers, params={"query": "a"})
    assert missing_fields.status_code == 422

    failures = await sql_rows(http, admin, documented_query("Failed tool invocations by tool"))
    assert failures == [{"tool": "first", "failures": 1, "last_error": "boom in regular"}]


async def test_a_worker_killed_during_an_invoke_fails_clearly(stack: Stack, http: httpx.AsyncClient, admin: Caller,
                                                              workspace: Workspace) -> None:
    tool_id = await _echo_tool(http, admin, workspace, "sleepy")
    running = asyncio.ensure_future(_invoke(http, admin, tool_id, "1.0.0", _input("sleep")))
    left = await kill_worker_mid_run(stack, "worker-after-invoke")
    # The run is not retried (a tool may have effects): the heartbeat timeout ends it with a clear 503.
    response = await asyncio.wait_for(running, 60)
    assert response.status_code == 503 and response.json()["error_code"] == "tool_runner_failed", response.text
    assert left == []
    again = await _invoke(http, admin, tool_id, "1.0.0", _input("awake"))
    assert again.status_code == 200 and again.json()["invocation_results"][0]["succeeded"], again.text


async def test_results_larger_than_an_invocation_carries_fail_clearly(stack: Stack, http: httpx.AsyncClient,
                                                                      admin: Caller, workspace: Workspace) -> None:
    tool_id = await _echo_tool(http, admin, workspace, "large")
    huge = await _invoke(http, admin, tool_id, "1.0.0", _input("x", count=3_900_000))
    assert huge.status_code == 200, huge.text
    [result] = huge.json()["invocation_results"]
    assert (result["succeeded"], result["exception_type"], result["exception_message"]) == (
        False, "ProcessExited", "The tool's answer is larger than 2097152 bytes.")
    two = await _invoke(http, admin, tool_id, "1.0.0", _input("x", count=1_000_000), _input("y", count=1_000_000))
    assert two.status_code == 200, two.text
    first, second = two.json()["invocation_results"]
    assert first["succeeded"] and not second["succeeded"]
    assert second["exception_message"].endswith("the results of one invocation hold at most 1800000 bytes in all.")
