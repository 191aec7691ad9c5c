"""The tool scaffold: the same bytes from every call and every process, pushable with stock git, readable
through the repository endpoints, and its own tests pass in a fresh virtual environment (built offline)."""

import asyncio
import io
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from amigo_api.settings import Settings
from amigo_api.tools.scaffold import ScaffoldRelease
from tests.conftest import Caller
from tests.gitcli import commit_all, git, remote_url
from tests.live import live_api

FILES = ["README.md", "pyproject.toml", "tests/test_tool.py", "tool.py"]


@pytest.fixture(scope="module")
def live_url(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with live_api(settings, tmp_path_factory.mktemp("logs"), "api-scaffold", AMIGO_RATE_LIMIT_SCALE="10") as url:
        yield url


def _pytest_offline(project: Path, venv: Path) -> subprocess.CompletedProcess[str]:
    """The project's tests in a fresh virtual environment that sees only the packages this test environment
    already has (a .pth file): no package index."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    purelib = subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()"
                              "['purelib'])"], check=True, capture_output=True, text=True).stdout.strip()
    (Path(purelib) / "test-environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return subprocess.run([str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                          cwd=project, capture_output=True, text=True, timeout=120)


def _members(archive: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        return {member.name: member for member in tar.getmembers()}


async def test_the_same_bytes_from_every_call_and_process(client: httpx.AsyncClient, admin: Caller,
                                                          live_url: str) -> None:
    url = f"/v1/{admin.org_id}/tool/amigo_tool_scaffold.tar.gz"
    first = await client.get(url, headers=admin.headers)
    second = await client.get(url, headers=admin.headers)
    assert first.status_code == 200 and first.headers["content-type"] == "application/gzip"
    async with httpx.AsyncClient(base_url=live_url) as other_process:
        third = await other_process.get(url, headers=admin.headers)
    assert first.content == second.content == third.content == ScaffoldRelease.load().archive
    members = _members(first.content)
    assert sorted(name.removeprefix("amigo_tool_scaffold/") for name, m in members.items() if m.isfile()) == FILES
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members.values()} == {(1767225600, 0, 0, "", "")}
    with tarfile.open(fileobj=io.BytesIO(first.content), mode="r:gz") as tar:
        pyproject = tomllib.load(tar.extractfile("amigo_tool_scaffold/pyproject.toml"))  # type: ignore[arg-type]
    release = first.headers["x-scaffold-release"]
    assert pyproject["tool"]["amigo"] == {"entrypoint": "tool:run", "envvars": [], "secret_envvars": [],
                                          "scaffold_release": release}
    assert len(release) == 40
    anonymous = await client.get(url)
    assert anonymous.status_code == 401


async def test_pushed_with_git_readable_and_its_tests_pass(client: httpx.AsyncClient, admin: Caller,
                                                           live_url: str, tmp_path: Path) -> None:
    archive = (await client.get(f"/v1/{admin.org_id}/tool/amigo_tool_scaffold.tar.gz", headers=admin.headers)).content
    work = tmp_path / "tools"
    git(tmp_path, "clone", "-q", remote_url(live_url, admin), str(work))
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        tar.extractall(work, filter="data")
    (work / "amigo_tool_scaffold").rename(work / "greeting")
    commit_all(work, "A greeting tool")
    git(work, "push", "-q", "origin", "main")
    read = await client.get(f"/v1/{admin.org_id}/tool/repo/file", headers=admin.headers,
                            params={"path": "greeting/tool.py"})
    assert read.status_code == 200 and read.content == (work / "greeting" / "tool.py").read_bytes()
    listing = await client.get(f"/v1/{admin.org_id}/tool/repo/directory", headers=admin.headers,
                               params={"path": "greeting"})
    assert sorted(e["name"] for e in listing.json()["entries"]) == ["README.md", "pyproject.toml", "tests", "tool.py"]
    tested = await asyncio.to_thread(_pytest_offline, work / "greeting", tmp_path / "venv")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "2 passed" in tested.stdout
