"""publish-tool-version end to end: the scaffold pushed with stock git, published over HTTP by the API
process through Temporal to a real tool worker that builds it with uv (offline, from a local wheelhouse) and
runs its tests and reads its input schema in the sandbox."""

import asyncio
from datetime import timedelta

import httpx
import pytest

from amigo_api.core.db import Clusters
from amigo_api.core.errors import InvalidRequest
from amigo_api.core.locks import acquire_lock, lock_holder, release_lock
from amigo_api.sandbox.runner import RunOutcome
from amigo_api.settings import Settings
from amigo_api.tools.sandbox_checks import check_tests
from amigo_api.tools.scaffold import ScaffoldRelease
from amigo_api.tools.service import tool_lock
from tests.conftest import Caller
from tests.toolstack import Stack, Workspace, create_tool, kill_worker_mid_run, publish, versions


def _builds(stack: Stack) -> set[str]:
    return {p.name for p in stack.build_root.iterdir() if not p.name.startswith(".")}


async def test_the_scaffold_published_end_to_end(stack: Stack, http: httpx.AsyncClient, admin: Caller,
                                                 workspace: Workspace) -> None:
    tool_id = await create_tool(http, admin, "greeting")
    earlier = _builds(stack)  # the stack is shared: other tests' builds are there too
    workspace.add_scaffold("greeting")
    first_commit = workspace.push("A greeting tool")
    response = await publish(http, admin, tool_id, "greeting")
    assert response.status_code == 201, response.text
    assert response.json() == {"new_version": "1.0.0"}
    [version] = await versions(http, admin, tool_id)
    assert version["version"] == {"major": 1, "minor": 0, "patch": 0}
    assert version["tool_commit_hash"] == first_commit
    assert version["amigo_scaffold_commit_hash"] == ScaffoldRelease.load().release_hash
    assert version["project_directory"] == "greeting"
    assert version["lambda_version"] == 1
    assert version["input_schema"]["required"] == ["name"]
    assert version["input_schema"]["properties"]["name"]["type"] == "string"
    assert version["creator"] == {"user_id": admin.user_id, "user_org_id": admin.org_id}
    assert version["required_envvars"] == [] and version["deprecated"] is False
    builds = _builds(stack)
    assert len(builds - earlier) == 1

    # A commit outside the project: a new version, from the same build.
    workspace.write("README.md", "Our tools.\n")
    second_commit = workspace.push("Describe the repository")
    response = await publish(http, admin, tool_id, "greeting", "minor")
    assert response.status_code == 201, response.text
    assert response.json() == {"new_version": "1.1.0"}
    assert _builds(stack) == builds
    assert "build_reused" not in response.text
    latest = (await versions(http, admin, tool_id))[-1]
    assert latest["tool_commit_hash"] == second_commit and latest["lambda_version"] == 2

    # The same commit again is not newer.
    response = await publish(http, admin, tool_id, "greeting", "patch")
    assert response.status_code == 400 and response.json()["error_code"] == "commit_not_newer", response.text

    workspace.edit("greeting/tool.py", "Hello, ", "Hi, ")
    workspace.edit("greeting/tests/test_tool.py", '"Hello, ', '"Hi, ')
    workspace.push("Say hi")
    response = await publish(http, admin, tool_id, "greeting", "patch")
    assert response.json() == {"new_version": "1.1.1"}, response.text
    assert len(_builds(stack) - earlier) == 2

    # Three non-deprecated versions: a fourth is refused until one is deprecated.
    workspace.write("CHANGES.md", "1.1.1: says hi\n")
    workspace.push("Changes")
    response = await publish(http, admin, tool_id, "greeting", "patch")
    assert response.status_code == 400 and response.json()["error_code"] == "too_many_versions", response.text
    deprecated = await http.delete(f"/v1/{admin.org_id}/tool/{tool_id}/version/<1.1", headers=admin.headers)
    assert deprecated.status_code == 204
    response = await publish(http, admin, tool_id, "greeting", "major")
    assert response.json() == {"new_version": "2.0.0"}, response.text
    states = {v["version"]["major"] * 100 + v["version"]["minor"] * 10 + v["version"]["patch"]: v["deprecated"]
              for v in await versions(http, admin, tool_id)}
    assert states == {100: True, 110: False, 111: False, 200: False}
    await _lock_is_free(stack, admin, tool_id)


async def _lock_is_free(stack: Stack, caller: Caller, tool_id: str) -> None:
    clusters = Clusters(Settings(mongo_uri=stack.env["AMIGO_MONGO_URI"]))
    try:
        assert await lock_holder(await clusters.org_db(caller.org_id), tool_lock(tool_id)) is None
    finally:
        await clusters.close()


async def test_refusals(stack: Stack, http: httpx.AsyncClient, admin: Caller, workspace: Workspace) -> None:
    tool_id = await create_tool(http, admin, "refused")
    unknown = await publish(http, admin, "0" * 24, "refused")
    assert unknown.status_code == 404 and unknown.json()["error_code"] == "tool_not_found"
    empty = await publish(http, admin, tool_id, "refused")
    assert empty.status_code == 404 and empty.json()["error_code"] == "repository_empty", empty.text

    workspace.add_scaffold("refused")
    workspace.push("A project")
    missing = await publish(http, admin, tool_id, "elsewhere")
    assert missing.status_code == 404 and missing.json()["error_code"] == "path_not_found", missing.text
    not_a_project = await publish(http, admin, tool_id, "refused/tests")
    assert not_a_project.status_code == 404 and not_a_project.json()["error_code"] == "project_not_found"
    minor_first = await publish(http, admin, tool_id, "refused", "minor")
    assert minor_first.status_code == 400 and minor_first.json()["error_code"] == "first_version_not_major"
    for bad in ({"project_path": "../x", "bump_type": "major"}, {"project_path": {"$ne": ""}, "bump_type": "major"},
                {"project_path": "x" * 2000, "bump_type": "major"}, {"project_path": "x", "bump_type": "huge"}):
        response = await http.post(f"/v1/{admin.org_id}/tool/{tool_id}/version", headers=admin.headers, json=bad)
        assert response.status_code == 422, bad

    workspace.edit("refused/pyproject.toml", "[tool.amigo]", "[tool.other]")
    workspace.push("No amigo table")
    no_table = await publish(http, admin, tool_id, "refused")
    assert no_table.status_code == 400 and no_table.json()["error_code"] == "invalid_tool_project", no_table.text
    assert "[tool.amigo]" in no_table.json()["detail"]

    workspace.edit("refused/pyproject.toml", "[tool.other]", "[tool.amigo]")
    workspace.edit("refused/pyproject.toml", "envvars = []\nsecret_envvars = []",
                   'envvars = ["REGION"]\nsecret_envvars = ["API_KEY"]')
    workspace.push("Needs variables")
    needs = await publish(http, admin, tool_id, "refused")
    assert needs.status_code == 400 and needs.json()["error_code"] == "envvars_missing", needs.text
    assert "REGION is not on the tool" in needs.json()["detail"]
    swapped = await create_tool(http, admin, "swapped", REGION=("eu", True), API_KEY=("k", False))
    mixed = await publish(http, admin, swapped, "refused")
    assert "REGION is secret on the tool but plain in the project" in mixed.json()["detail"], mixed.text
    assert "API_KEY is plain on the tool but secret in the project" in mixed.json()["detail"]

    workspace.edit("refused/tests/test_tool.py", 'assert run(Input(name="Ada"), Context()) == "Hello, Ada!"',
                   'assert run(Input(name="Ada"), Context()) == "Bye"')
    workspace.push("A failing test")
    matching = await create_tool(http, admin, "matching", REGION=("eu", False), API_KEY=("k", True))
    failing = await publish(http, admin, matching, "refused")
    assert failing.status_code == 400 and failing.json()["error_code"] == "tool_checks_failed", failing.text
    # pytest's short summary line: the test, and the assertion that failed.
    assert ("FAILED tests/test_tool.py::test_greets_by_name - AssertionError: assert 'Hello, Ada!' == 'Bye'"
            in failing.json()["detail"]), failing.text

    workspace.edit("refused/tests/test_tool.py", '== "Bye"', '== "Hello, Ada!"')
    workspace.edit("refused/pyproject.toml", '"pydantic>=2"', '"pydantic>=2", "no-such-package-anywhere>=1"')
    workspace.push("A dependency nobody has")
    unbuildable = await publish(http, admin, matching, "refused")
    assert unbuildable.status_code == 400 and unbuildable.json()["error_code"] == "tool_build_failed"
    assert "no-such-package-anywhere" in unbuildable.json()["detail"]

    workspace.edit("refused/pyproject.toml", ', "no-such-package-anywhere>=1"', "")
    workspace.edit("refused/tool.py", "def run(tool_input: Input", "def run(tool_input: dict")
    workspace.edit("refused/tests/test_tool.py", "from tool import", "import pytest\nfrom tool import")
    workspace.push("An entrypoint without a model")
    no_model = await publish(http, admin, matching, "refused")
    assert no_model.status_code == 400 and no_model.json()["error_code"] == "invalid_entrypoint", no_model.text

    workspace.edit("refused/tool.py", "def run(tool_input: dict", "def run(tool_input: Input")
    workspace.push("Fixed")
    published = await publish(http, admin, matching, "refused")
    assert published.status_code == 201, published.text
    [version] = await versions(http, admin, matching)
    assert version["required_envvars"] == ["REGION"] and version["required_secret_envvars"] == ["API_KEY"]
    in_use = await http.post(f"/v1/{admin.org_id}/tool/{matching}/envvar", headers=admin.headers,
                             json={"deletes": [{"name": "API_KEY"}]})
    assert in_use.status_code == 400 and in_use.json()["error_code"] == "envvar_in_use"


async def test_a_held_lock_and_a_concurrent_publish_are_409(stack: Stack, http: httpx.AsyncClient, admin: Caller,
                                                             workspace: Workspace) -> None:
    tool_id = await create_tool(http, admin, "locked")
    workspace.add_scaffold("locked")
    workspace.push("A project")
    clusters = Clusters(Settings(mongo_uri=stack.env["AMIGO_MONGO_URI"]))
    try:
        org = await clusters.org_db(admin.org_id)
        assert await acquire_lock(org, tool_lock(tool_id), "someone-else", timedelta(minutes=1))
        held = await publish(http, admin, tool_id, "locked")
        assert held.status_code == 409 and held.json()["detail"] == "A related operation is in progress."
        await release_lock(org, tool_lock(tool_id), "someone-else")
    finally:
        await clusters.close()

    first, second = await asyncio.gather(publish(http, admin, tool_id, "locked"),
                                         publish(http, admin, tool_id, "locked"))
    assert sorted([first.status_code, second.status_code]) == [201, 409], (first.text, second.text)

    # While a publish runs, deprecating the tool is refused.
    workspace.write("NOTES.md", "again\n")
    workspace.push("Another commit")
    running = asyncio.ensure_future(publish(http, admin, tool_id, "locked", "minor"))
    await _wait_until_locked(stack, admin, tool_id)
    refused = await http.delete(f"/v1/{admin.org_id}/tool/{tool_id}", headers=admin.headers)
    assert refused.status_code == 409
    assert (await running).status_code == 201
    await _lock_is_free(stack, admin, tool_id)


async def _wait_until_locked(stack: Stack, caller: Caller, tool_id: str) -> None:
    clusters = Clusters(Settings(mongo_uri=stack.env["AMIGO_MONGO_URI"]))
    try:
        org = await clusters.org_db(caller.org_id)
        for _ in range(200):
            if await lock_holder(org, tool_lock(tool_id)) is not None:
                return
            await asyncio.sleep(0.02)
        raise AssertionError("the publish never took the lock")
    finally:
        await clusters.close()


async def test_a_worker_killed_mid_publish_is_replaced(stack: Stack, http: httpx.AsyncClient, admin: Caller,
                                                       workspace: Workspace) -> None:
    tool_id = await create_tool(http, admin, "slow")
    workspace.add_scaffold("slow")
    workspace.edit("slow/tests/test_tool.py", "def test_greets_by_name() -> None:\n",
                   "def test_greets_by_name() -> None:\n    import time\n    time.sleep(4)\n")
    workspace.push("Slow tests")
    running = asyncio.ensure_future(publish(http, admin, tool_id, "slow"))
    assert await kill_worker_mid_run(stack, "worker-replacement") == []  # the sandbox died with the worker
    response = await asyncio.wait_for(running, 120)
    assert response.status_code == 201 and response.json() == {"new_version": "1.0.0"}, response.text
    assert len(await versions(http, admin, tool_id)) == 1
    await _lock_is_free(stack, admin, tool_id)


async def test_callers_from_elsewhere_or_without_the_permission(stack: Stack, http: httpx.AsyncClient, admin: Caller,
                                                                 make_caller, make_role_caller,  # type: ignore[no-untyped-def]
                                                                 new_org_id: str) -> None:
    tool_id = await create_tool(http, admin, "guarded")
    body = {"project_path": "guarded", "bump_type": "major"}
    stranger: Caller = await make_caller(f"{new_org_id}x")
    theirs = await http.post(f"/v1/{stranger.org_id}/tool/{tool_id}/version", headers=stranger.headers, json=body)
    assert theirs.status_code == 404  # our tool id in their organization
    ours = await http.post(f"/v1/{admin.org_id}/tool/{tool_id}/version", headers=stranger.headers, json=body)
    assert ours.status_code == 401  # their token on our organization
    reader: Caller = await make_role_caller(admin, "ToolReader", [
        {"permission_name": "Tool:InvokeTool", "conditions": {}}])
    refused = await http.post(f"/v1/{admin.org_id}/tool/{tool_id}/version", headers=reader.headers, json=body)
    assert refused.status_code == 403
    anonymous = await http.post(f"/v1/{admin.org_id}/tool/{tool_id}/version", json=body)
    assert anonymous.status_code == 401


async def test_a_link_out_of_the_project_is_one_400(stack: Stack, http: httpx.AsyncClient, admin: Caller,
                                                   workspace: Workspace) -> None:
    tool_id = await create_tool(http, admin, "linked")
    workspace.add_scaffold("linked")
    (workspace.path / "linked" / "passwd").symlink_to("/etc/passwd")
    workspace.push("A link out of the project")
    answer = await publish(http, admin, tool_id, "linked")
    assert answer.status_code == 400 and answer.json()["error_code"] == "tool_build_failed", answer.text
    assert "Links must stay inside the project" in answer.json()["detail"]


def test_a_failed_publish_names_ten_failures_at_most_each_bounded() -> None:
    summaries = [f"FAILED tests/test_x.py::test_{i} - AssertionError: {'x' * 2000}" for i in range(15)]
    outcome = RunOutcome({"exit_code": 1, "passed": 0, "failed": [f"t{i}" for i in range(15)],
                          "summaries": summaries}, None, "", "")
    with pytest.raises(InvalidRequest) as refused:
        check_tests(outcome)
    detail = refused.value.detail
    assert detail.startswith("The tool's tests (CI checks) failed:\nFAILED tests/test_x.py::test_0 - AssertionError")
    assert "test_9 -" in detail and "test_10 -" not in detail and detail.endswith("... and 5 more")
    assert len(detail) < 10 * 700
