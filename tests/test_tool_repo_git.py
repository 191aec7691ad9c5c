"""Stock `git` against a live server: clone, commit, push, fetch, branches, tags, protected `main`, refusals;
then the results read back through the JSON endpoints."""

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from amigo_api.settings import Settings
from tests.conftest import Caller
from tests.gitcli import commit_all, git, remote_url
from tests.live import live_api


@pytest.fixture(scope="module")
def live_url(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with live_api(settings, tmp_path_factory.mktemp("logs"), "api-git", AMIGO_RATE_LIMIT_SCALE="10") as url:
        yield url


def _populate(work: Path) -> None:
    (work / "tools" / "hello").mkdir(parents=True)
    (work / "README.md").write_text("# Tools\n")
    (work / "tools" / "hello" / "main.py").write_text("print('hello')\n")
    (work / "logo.bin").write_bytes(bytes(range(256)) * 64)
    os.symlink("tools/hello/main.py", work / "entry.py")
    os.symlink("../../etc/passwd", work / "escape")


async def test_git_round_trip_with_protected_main(live_url: str, admin: Caller, client: httpx.AsyncClient,
                                                 tmp_path: Path) -> None:
    remote = remote_url(live_url, admin)
    work = tmp_path / "work"
    cloned = git(tmp_path, "clone", remote, str(work))
    assert "empty repository" in cloned.stderr
    _populate(work)
    first = commit_all(work, "Add the first tool")
    git(work, "push", "-q", "origin", "main")

    repo = f"/v1/{admin.org_id}/tool/repo"
    branch = (await client.get(f"{repo}/branches/main", headers=admin.headers)).json()
    assert branch["sha"] == first and branch["message"] == "Add the first tool\n"
    assert branch["committer"] == {"org_id": admin.org_id, "user_id": admin.user_id}

    git(work, "checkout", "-q", "-b", "feature/x")
    (work / "tools" / "hello" / "main.py").write_text("print('hello, world')\n")
    feature = commit_all(work, "Greet the world")
    git(work, "push", "-q", "origin", "feature/x")
    git(work, "tag", "v1", first)
    git(work, "push", "-q", "origin", "--tags")

    other = tmp_path / "other"
    git(tmp_path, "-c", "protocol.version=0", "clone", "-q", remote, str(other))
    assert (other / "logo.bin").read_bytes() == bytes(range(256)) * 64
    assert git(other, "ls-remote", "--tags", "origin").stdout.split()[0] == first
    git(work, "checkout", "-q", "main")
    (work / "CHANGELOG").write_text("v2\n")
    second = commit_all(work, "Changelog")
    git(work, "push", "-q", "origin", "main")
    git(other, "-c", "protocol.version=2", "fetch", "-q", "origin")
    assert git(other, "rev-parse", "origin/main").stdout.strip() == second
    assert git(other, "rev-parse", "origin/feature/x").stdout.strip() == feature

    git(work, "reset", "-q", "--hard", first)
    forced = git(work, "push", "-f", "origin", "main", check=False)
    assert forced.returncode != 0 and "protected" in forced.stderr
    deleted = git(work, "push", "origin", ":main", check=False)
    assert deleted.returncode != 0 and "protected" in deleted.stderr
    git(work, "push", "-q", "-f", "origin", f"{first}:refs/heads/feature/x")  # other branches may be rewritten
    assert (await client.get(f"{repo}/branches/main", headers=admin.headers)).json()["sha"] == second
    rewritten = (await client.get(f"{repo}/branches/feature/x", headers=admin.headers)).json()
    assert rewritten["sha"] == first and rewritten["committer"]["user_id"] == admin.user_id


async def test_credentials_and_permissions_on_the_git_endpoint(
        live_url: str, admin: Caller, make_caller, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    info_refs = f"{live_url}/v1/{admin.org_id}/tool/git/info/refs?service=git-upload-pack"
    async with httpx.AsyncClient() as http:
        anonymous = await http.get(info_refs)
        assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"].startswith("Basic ")
        wrong_password = await http.get(info_refs, auth=(f"{admin.org_id}_{admin.user_id}", "not-a-token"))
        assert wrong_password.status_code == 401
        other_name = await http.get(info_refs, auth=(f"{admin.org_id}_someone", admin.token))
        assert other_name.status_code == 401
        ok = await http.get(info_refs, auth=(f"{admin.org_id}_{admin.user_id}", admin.token))
        assert ok.status_code == 200 and ok.headers["content-type"] == "application/x-git-upload-pack-advertisement"
        assert (await http.get(f"{live_url}/v1/{admin.org_id}/tool/git/config",
                               auth=(f"{admin.org_id}_{admin.user_id}", admin.token))).status_code == 404

    outsider: Caller = await make_caller(f"other{uuid.uuid4().hex[:10]}")
    refused = git(tmp_path, "clone", remote_url(live_url, outsider, admin.org_id), str(tmp_path / "x"), check=False)
    assert refused.returncode != 0 and "403" in refused.stderr
    assert git(tmp_path, "clone", "http://" + live_url.removeprefix("http://") + f"/v1/{admin.org_id}/tool/git/",
               str(tmp_path / "y"), check=False).returncode != 0

    user: Caller = await make_caller(admin.org_id, "DefaultUserRole")
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", remote_url(live_url, admin), str(work))
    (work / "a.txt").write_text("a\n")
    commit_all(work, "a")
    git(work, "remote", "set-url", "origin", remote_url(live_url, user))
    pushed = git(work, "push", "origin", "main", check=False)
    assert pushed.returncode != 0 and "403" in pushed.stderr


async def test_protected_branches_are_a_setting(settings: Settings, admin: Caller, tmp_path: Path) -> None:
    with live_api(settings, tmp_path, "api-release-protected", AMIGO_GIT_PROTECTED_BRANCHES='["release"]') as url:
        work = tmp_path / "work"
        git(tmp_path, "clone", "-q", remote_url(url, admin), str(work))
        (work / "a.txt").write_text("a\n")
        first = commit_all(work, "a")
        (work / "b.txt").write_text("b\n")
        commit_all(work, "b")
        git(work, "push", "-q", "origin", "main", "main:release")
        git(work, "reset", "-q", "--hard", first)
        git(work, "push", "-q", "-f", "origin", "main")  # main is not protected under this setting
        refused = git(work, "push", "-f", "origin", "main:release", check=False)
        assert refused.returncode != 0 and "protected" in refused.stderr


def test_the_credential_helper_keeps_a_clone_signed_in(live_url: str, admin: Caller, tmp_path: Path) -> None:
    data_dir = tmp_path / "stack"
    data_dir.mkdir()
    (data_dir / "dev-stack.json").write_text(json.dumps({
        "api_url": live_url, "org_id": admin.org_id, "user_id": admin.user_id, "api_key_id": admin.api_key_id,
        "api_key": admin.api_key}))
    helper = f"credential.helper=!{sys.executable} -m amigo_api git-credential --data-dir {data_dir}"
    host = live_url.removeprefix("http://")
    url = f"http://{admin.org_id}_{admin.user_id}@{host}/v1/{admin.org_id}/tool/git/"  # no token in the URL
    work = tmp_path / "work"
    cloned = git(tmp_path, "clone", "-q", "-c", helper, url, str(work))
    assert cloned.stderr.strip() == "warning: You appear to have cloned an empty repository."  # no sign-in logs
    (work / "note.txt").write_text("signed in by the helper\n")
    commit_all(work, "Through the helper")
    git(work, "push", "-q", "origin", "HEAD:refs/heads/helper")  # a later push signs in again by itself
    assert "helper" in git(work, "ls-remote", "origin").stdout
    # Git asks on every fetch and push; sign-ins are rate limited, so the token is kept (for its owner only).
    cached = data_dir / "git-token.json"
    assert cached.stat().st_mode & 0o777 == 0o600

    def helper_says(operation: str) -> str:
        return subprocess.run([sys.executable, "-m", "amigo_api", "git-credential", operation, "--data-dir",
                               str(data_dir)], input=f"protocol=http\nhost={host}\n\n", capture_output=True,
                              text=True, timeout=60, check=True).stdout

    assert helper_says("get") == helper_says("get") == \
        f"username={admin.org_id}_{admin.user_id}\npassword={json.loads(cached.read_text())['id_token']}\n"
    helper_says("erase")
    assert not cached.exists()
    unrelated = subprocess.run([sys.executable, "-m", "amigo_api", "git-credential", "get", "--data-dir",
                                str(data_dir)], input="protocol=http\nhost=example.invalid\n\n", capture_output=True,
                               text=True, timeout=60)
    assert unrelated.returncode == 0 and unrelated.stdout == ""
    stopped = json.loads((data_dir / "dev-stack.json").read_text()) | {"api_url": "http://127.0.0.1:9"}
    (data_dir / "dev-stack.json").write_text(json.dumps(stopped))
    down = subprocess.run([sys.executable, "-m", "amigo_api", "git-credential", "get", "--data-dir", str(data_dir)],
                          input="protocol=http\nhost=127.0.0.1:9\n\n", capture_output=True, text=True, timeout=60)
    assert down.returncode == 0 and down.stdout == ""
    assert down.stderr.startswith("amigo-api git-credential: could not sign in at http://127.0.0.1:9 (")
    assert down.stderr.strip().endswith(f"is `amigo-api dev --data-dir {data_dir}` running?")
    assert len(down.stderr.strip().splitlines()) == 1
