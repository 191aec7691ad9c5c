"""The command line as scripts use it: bootstrap's JSON, and `dev` end to end including a restart."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from amigo_api.settings import Settings
from tests.conftest import Caller
from tests.gitcli import git, remote_url


def test_bootstrap_prints_working_credentials(settings: Settings) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "amigo_api", "bootstrap", "--org", "cliorg", "--mongo-uri", settings.mongo_uri,
         "--email", "ops@example.com", "--role", "DefaultAdministratorRole"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "AMIGO_SECRET_KEY": settings.secret_key})
    assert result.returncode == 0, result.stderr
    creds = json.loads(result.stdout)
    assert set(creds) == {"org_id", "user_id", "api_key_id", "api_key"} and creds["org_id"] == "cliorg"


def _start_dev(data_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "amigo_api", "dev", "--data-dir", str(data_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _wait_for_stack(process: subprocess.Popen[str], stack_file: Path, previous: float) -> dict[str, str]:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        if stack_file.exists() and stack_file.stat().st_mtime > previous:
            stack: dict[str, str] = json.loads(stack_file.read_text())
            if httpx.get(f"{stack['api_url']}/healthz", timeout=5).status_code == 200:
                return stack
        time.sleep(0.5)
    raise AssertionError("amigo-api dev did not come up")


def _sign_in_and_list_users(stack: dict[str, str]) -> int:
    token = httpx.post(f"{stack['api_url']}/v1/{stack['org_id']}/user/signin_with_api_key", headers={
        "x-api-key": stack["api_key"], "x-api-key-id": stack["api_key_id"], "x-user-id": stack["user_id"]}).json()
    users = httpx.get(f"{stack['api_url']}/v1/{stack['org_id']}/user/",
                      headers={"Authorization": f"Bearer {token['id_token']}"})
    assert users.status_code == 200
    return len(users.json()["users"])


def _git_ls_remote(stack: dict[str, str], cwd: Path) -> None:
    token = httpx.post(f"{stack['api_url']}/v1/{stack['org_id']}/user/signin_with_api_key", headers={
        "x-api-key": stack["api_key"], "x-api-key-id": stack["api_key_id"], "x-user-id": stack["user_id"]}
    ).json()["id_token"]
    caller = Caller(stack["org_id"], stack["user_id"], stack["api_key_id"], stack["api_key"], token)
    git(cwd, "ls-remote", remote_url(stack["api_url"], caller))


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    return output


def test_dev_starts_everything_and_keeps_data_and_credentials_across_restarts(tmp_path: Path) -> None:
    stack_file = tmp_path / "dev-stack.json"
    process = _start_dev(tmp_path)
    try:
        stack = _wait_for_stack(process, stack_file, 0)
        assert set(stack) == {"api_url", "mongo_uri", "temporal_address", "org_id", "user_id", "api_key_id",
                              "api_key", "environment_id", "project_token"} and stack["org_id"] == "demo"
        captured = httpx.post(f"{stack['api_url']}/batch/", json={"api_key": stack["project_token"], "batch": [
            {"event": "$ai_generation", "distinct_id": "dev", "properties": {}}]})
        assert captured.status_code == 200, captured.text
        ready = httpx.get(f"{stack['api_url']}/readyz", timeout=30).json()
        assert ready["checks"] == {"mongo:default": True, "temporal": True, "worker": True, "workflow_probe": True}
        users_before = _sign_in_and_list_users(stack)
        _git_ls_remote(stack, tmp_path)
        assert (tmp_path / "git" / "demo.git" / "HEAD").exists()
    finally:
        output = _stop(process)
    assert "curl" in output and "signin_with_api_key" in output and "tool/git/" in output
    assert "tool/amigo_tool_scaffold.tar.gz" in output
    assert f"{stack['api_url']}/docs" in output and "credential.helper" in output
    assert '"event"' not in output  # progress lines only; the logs are in the data dir
    assert "AMIGO_OUTBOUND_ALLOW_PRIVATE=true" in output  # how to let the judge reach a local model server
    assert not httpx_up(stack["api_url"])
    first_write = stack_file.stat().st_mtime
    process = _start_dev(tmp_path)
    try:
        again = _wait_for_stack(process, stack_file, first_write)
        kept = ("org_id", "user_id", "api_key_id", "api_key", "environment_id", "project_token")
        assert {k: again[k] for k in kept} == {k: stack[k] for k in kept}
        assert _sign_in_and_list_users(again) == users_before
    finally:
        _stop(process)


def httpx_up(url: str) -> bool:
    try:
        httpx.get(f"{url}/healthz", timeout=2)
        return True
    except httpx.HTTPError:
        return False


def _children(pid: int) -> list[int]:
    """Every descendant of `pid` (the stack's processes sit in sessions of their own, so walk parent links)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        kids = [child for child, ppid in parents.items() if ppid == parent]
        found += kids
        frontier += kids
    return found


def _alive(pids: list[int]) -> list[str]:
    """The command lines of those still running."""
    alive = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
        except OSError:
            continue
        if state != "Z":
            alive.append(command)
    return alive


def _gone_within(pids: list[int], seconds: float) -> list[str]:
    deadline = time.monotonic() + seconds
    while _alive(pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return _alive(pids)


def test_the_stack_dies_with_its_parent_and_a_data_dir_runs_one_stack(tmp_path: Path) -> None:
    stack_file = tmp_path / "dev-stack.json"
    process = _start_dev(tmp_path)
    try:
        stack = _wait_for_stack(process, stack_file, 0)
        children = _children(process.pid)
        assert len(children) >= 4
        second = subprocess.run([sys.executable, "-m", "amigo_api", "dev", "--data-dir", str(tmp_path)],
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 1
        assert f"a stack is already running on this data dir (pid {process.pid}, {stack['api_url']})" in \
               second.stderr + second.stdout
        process.kill()  # SIGKILL: the parent cannot stop anything itself
        process.wait(10)
        assert _gone_within(children, 10) == []
    finally:
        if process.poll() is None:
            process.kill()
    first_write = stack_file.stat().st_mtime
    process = _start_dev(tmp_path)
    try:
        again = _wait_for_stack(process, stack_file, first_write)
        assert again["api_url"] == stack["api_url"]  # the port is reused, so clones keep their remote
        children = _children(process.pid)
        process.send_signal(signal.SIGHUP)  # the terminal closed
        process.wait(15)
        assert _gone_within(children, 10) == []
    finally:
        if process.poll() is None:
            process.kill()


def test_serve_without_a_secret_key_says_so_in_one_line() -> None:
    env = {k: v for k, v in os.environ.items() if k != "AMIGO_SECRET_KEY"}
    result = subprocess.run([sys.executable, "-m", "amigo_api", "serve", "--port", "1"], capture_output=True,
                            text=True, timeout=60, env=env)
    assert result.returncode == 1
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert len(lines) == 1 and "AMIGO_SECRET_KEY" in lines[0] and "Traceback" not in result.stderr
