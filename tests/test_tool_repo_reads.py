"""The tool repository's read endpoints over a repository written straight to disk (no push through the API)."""

import base64
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Caller
from tests.gitcli import commit_all, git

BINARY = bytes(range(256)) * 40 + b"\x00\xff"


@pytest.fixture
async def repo(app: Any, admin: Caller, tmp_path: Path) -> dict[str, str]:
    """Three commits on `main` and one on `feature`, pushed straight into the org's bare repository."""
    bare = await app.state.repo_store.ensure(admin.org_id)
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q")
    (work / "tools" / "hello").mkdir(parents=True)
    (work / "README.md").write_text("# Tools\n")
    (work / "tools" / "hello" / "main.py").write_text("print('hello')\n")
    first = commit_all(work, "First")
    (work / "logo.bin").write_bytes(BINARY)
    os.symlink("tools/hello/main.py", work / "entry.py")
    os.symlink("tools", work / "tools-link")
    os.symlink("../../../etc/passwd", work / "escape")
    os.symlink("/etc/passwd", work / "absolute")
    second = commit_all(work, "Binary and links")
    (work / "tools" / "hello" / "main.py").write_text("print('hello')\nprint('again')\n")
    third = commit_all(work, "Say it twice")
    git(work, "checkout", "-q", "-b", "feature")
    (work / "NOTES").write_text("notes\n")
    feature = commit_all(work, "Notes")
    git(work, "push", "-q", str(bare), "main", "feature")
    return {"first": first, "second": second, "third": third, "feature": feature}


def _url(caller: Caller, endpoint: str) -> str:
    return f"/v1/{caller.org_id}/tool/repo/{endpoint}"


async def test_files_are_byte_exact_and_paths_stay_inside(client: httpx.AsyncClient, admin: Caller,
                                                         repo: dict[str, str]) -> None:
    async def get(path: str, ref: str = "main") -> httpx.Response:
        return await client.get(_url(admin, "file"), headers=admin.headers, params={"path": path, "ref": ref})

    assert (await get("README.md")).content == b"# Tools\n"
    logo = await get("logo.bin")
    assert logo.content == BINARY and logo.headers["content-type"] == "application/octet-stream"
    assert (await get("entry.py")).content == b"print('hello')\nprint('again')\n"
    assert (await get("tools-link/hello/main.py")).status_code == 200
    assert (await get("tools/hello/main.py", repo["first"])).content == b"print('hello')\n"
    assert (await get("tools/hello/main.py", repo["first"][:10])).content == b"print('hello')\n"
    for path, status in (("tools", 400), ("missing.txt", 404), ("../README.md", 400), ("/etc/passwd", 400),
                         ("tools/../README.md", 400), ("escape", 400), ("absolute", 400), ("logo.bin/x", 404)):
        response = await get(path)
        assert response.status_code == status, (path, response.text)
    assert (await get("README.md", "no-such-branch")).status_code == 404
    assert (await get("README.md", "f" * 40)).status_code == 404

    many = await client.post(_url(admin, "files"), headers=admin.headers,
                             json={"ref": "main", "paths": ["README.md", "logo.bin"]})
    files = many.json()["files"]
    assert many.json()["sha"] == repo["third"]
    assert files[0] == {"path": "README.md", "size": 8, "encoding": "utf-8", "content": "# Tools\n"}
    assert files[1]["encoding"] == "base64" and base64.b64decode(files[1]["content"]) == BINARY
    not_file = await client.post(_url(admin, "files"), headers=admin.headers,
                                 json={"paths": ["README.md", "tools"]})
    assert not_file.status_code == 400
    assert (await client.post(_url(admin, "files"), headers=admin.headers, json={"paths": []})).status_code == 422


async def test_directories_with_last_commits(client: httpx.AsyncClient, admin: Caller, repo: dict[str, str]) -> None:
    root = (await client.get(_url(admin, "directory"), headers=admin.headers,
                             params={"include_last_commit": True})).json()
    entries = {e["name"]: e for e in root["entries"]}
    assert root["sha"] == repo["third"] and root["path"] == ""
    assert entries["tools"]["type"] == "directory" and entries["tools"]["size"] is None
    assert entries["logo.bin"] == {**entries["logo.bin"], "type": "file", "size": len(BINARY)}
    assert entries["entry.py"]["type"] == "symlink"
    assert entries["README.md"]["last_commit"]["sha"] == repo["first"]
    assert entries["tools"]["last_commit"]["sha"] == repo["third"]
    assert entries["logo.bin"]["last_commit"]["sha"] == repo["second"]
    plain = (await client.get(_url(admin, "directory"), headers=admin.headers, params={"path": "tools/hello"})).json()
    assert [(e["path"], e["last_commit"]) for e in plain["entries"]] == [("tools/hello/main.py", None)]
    assert (await client.get(_url(admin, "directory"), headers=admin.headers,
                             params={"path": "README.md"})).status_code == 400
    assert (await client.get(_url(admin, "directory"), headers=admin.headers,
                             params={"path": "nope"})).status_code == 404


async def test_commits_filters_and_pages(client: httpx.AsyncClient, admin: Caller, repo: dict[str, str]) -> None:
    async def commits(**params: Any) -> dict[str, Any]:
        response = await client.get(_url(admin, "commits"), headers=admin.headers, params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    everything = await commits()
    assert [c["sha"] for c in everything["commits"]] == [repo["third"], repo["second"], repo["first"]]
    assert everything["has_more"] is False and everything["continuation_token"] is None
    page_one = await commits(limit=2)
    assert page_one["has_more"] and page_one["continuation_token"] == 2
    page_two = await commits(limit=2, continuation_token=2)
    assert [c["sha"] for c in page_two["commits"]] == [repo["first"]] and not page_two["has_more"]
    touched = await commits(path="tools/hello/main.py")
    assert [c["sha"] for c in touched["commits"]] == [repo["third"], repo["first"]]
    assert [c["sha"] for c in (await commits(ref="feature", limit=1))["commits"]] == [repo["feature"]]
    stats = (await commits(limit=1, include_stats=True))["commits"][0]
    assert stats["changed_files"] == [{"path": "tools/hello/main.py", "previous_path": None, "status": "modified",
                                       "additions": 1, "deletions": 0}]
    changed = (await commits(ref=repo["second"], limit=1, include_changed_files=True))["commits"][0]
    assert {f["path"] for f in changed["changed_files"]} == {"logo.bin", "entry.py", "tools-link", "escape",
                                                            "absolute"}
    assert changed["changed_files"][0]["additions"] is None
    assert everything["commits"][0]["author"]["email"] == "ada@example.com"
    future = await commits(since="2100-01-01T00:00:00Z")
    assert future["commits"] == []
    past = await commits(until="2000-01-01T00:00:00Z")
    assert past["commits"] == []
    assert len((await commits(since="2000-01-01T00:00:00Z"))["commits"]) == 3
    assert (await client.get(_url(admin, "commits"), headers=admin.headers, params={"path": "nope"})
            ).status_code == 404


async def test_branches_and_who_pushed_them(client: httpx.AsyncClient, admin: Caller, repo: dict[str, str]) -> None:
    branch = (await client.get(_url(admin, "branches/main"), headers=admin.headers)).json()
    # Written straight to disk, not through the git endpoint: nobody is known to have pushed it.
    assert branch["sha"] == repo["third"] and branch["committer"] is None and branch["message"] == "Say it twice\n"
    assert (await client.get(_url(admin, "branches/nope"), headers=admin.headers)).status_code == 404
    listed = (await client.get(_url(admin, "branches"), headers=admin.headers, params={"limit": 1})).json()
    assert [b["name"] for b in listed["branches"]] == ["feature"] and listed["continuation_token"] == 2
    rest = (await client.get(_url(admin, "branches"), headers=admin.headers,
                             params={"limit": 1, "continuation_token": 2})).json()
    assert [b["name"] for b in rest["branches"]] == ["main"] and rest["has_more"] is False


async def test_reads_need_access_and_stay_in_their_organization(
        client: httpx.AsyncClient, admin: Caller, repo: dict[str, str], app: Any,
        make_caller) -> None:  # type: ignore[no-untyped-def]
    user: Caller = await make_caller(admin.org_id, "DefaultUserRole")
    assert (await client.get(_url(admin, "branches"), headers=user.headers)).status_code == 403
    other: Caller = await make_caller(f"elsewhere{repo['first'][:8]}")
    assert (await client.get(_url(other, "branches"), headers=other.headers)).json()["branches"] == []
    assert (await client.get(_url(other, "file"), headers=other.headers,
                             params={"path": "README.md"})).status_code == 404
    assert (await client.get(_url(admin, "branches"), headers=other.headers)).status_code == 401
    bare = await app.state.repo_store.ensure(admin.org_id)
    git(bare, "fsck", "--strict")


async def test_refs_with_control_characters_are_404(client: httpx.AsyncClient, admin: Caller,
                                                    repo: dict[str, str]) -> None:
    for ref in ("main\x00", "main\x00x", "ma\nin", "main\x7f"):
        response = await client.get(_url(admin, "file"), headers=admin.headers,
                                    params={"path": "README.md", "ref": ref})
        assert response.status_code == 404, ref
    for branch in ("main%00", "main%00x", "ma%0Ain"):
        assert (await client.get(_url(admin, f"branches/{branch}"), headers=admin.headers)).status_code == 404
