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
                              "api_key"} and stack["org_id"] == "demo"
        ready = httpx.get(f"{stack['api_url']}/readyz", timeout=30).json()
        assert ready["checks"] == {"mongo:default": True, "temporal": True, "worker": True, "workflow_probe": True}
        users_before = _sign_in_and_list_users(stack)
        _git_ls_remote(stack, tmp_path)
        assert (tmp_path / "git" / "demo.git" / "HEAD").exists()
    finally:
        output = _stop(process)
    assert "curl" in output and "signin_with_api_key" in output and "tool/git/" in output
    assert not httpx_up(stack["api_url"])
    first_write = stack_file.stat().st_mtime
    process = _start_dev(tmp_path)
    try:
        again = _wait_for_stack(process, stack_file, first_write)
        assert {k: again[k] for k in ("org_id", "user_id", "api_key_id", "api_key")} == \
               {k: stack[k] for k in ("org_id", "user_id", "api_key_id", "api_key")}
        assert _sign_in_and_list_users(again) == users_before
    finally:
        _stop(process)


def httpx_up(url: str) -> bool:
    try:
        httpx.get(f"{url}/healthz", timeout=2)
        return True
    except httpx.HTTPError:
        return False
