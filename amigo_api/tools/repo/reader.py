"""Reading an organization's repository with pygit2: refs, paths (confined to the repository), files,
directories, history and branches. Blocking calls; the service runs them in a worker thread."""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pygit2
from pygit2.enums import FileMode, SortMode

from amigo_api.core.errors import InvalidRequest, NotFound
from amigo_api.core.schemas import has_control_characters

_SHA = re.compile(r"^[0-9a-f]{7,40}$")
_MAX_LINK_HOPS = 20


class PathOutsideRepository(InvalidRequest):
    error_code = "path_outside_repository"


class NotAFile(InvalidRequest):
    error_code = "not_a_file"


class NotADirectory(InvalidRequest):
    error_code = "not_a_directory"


@dataclass(frozen=True)
class Entry:
    """A resolved path: the tree entry's object and mode (the root directory has no mode)."""

    path: str
    obj: pygit2.Object
    mode: int | None


def open_repository(path: Path) -> pygit2.Repository:
    return pygit2.Repository(str(path))


def resolve_commit(repo: pygit2.Repository, ref: str) -> pygit2.Commit:
    """A branch name or a (possibly abbreviated) commit SHA; anything else is 404."""
    # libgit2 reads names as C strings (`main\0x` would be `main`); git refuses such names anyway.
    if has_control_characters(ref):
        raise NotFound(f"The ref {ref!r} does not exist.", error_code="ref_not_found")
    try:
        branch = repo.references.get(f"refs/heads/{ref}")
        if branch is not None:
            return branch.peel(pygit2.Commit)
        if _SHA.match(ref):
            return repo.revparse_single(ref).peel(pygit2.Commit)
    except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
        pass
    raise NotFound(f"The ref {ref!r} does not exist.", error_code="ref_not_found")


def has_branch(repo: pygit2.Repository, name: str) -> bool:
    if has_control_characters(name):
        return False
    try:
        return repo.references.get(f"refs/heads/{name}") is not None
    except (ValueError, pygit2.InvalidSpecError):
        return False


def split_path(path: str) -> list[str]:
    """Repository-relative path components; absolute paths and `..` are refused."""
    if path.startswith("/") or "\\" in path or "\x00" in path:
        raise PathOutsideRepository(f"Path {path!r} must be relative to the repository root.")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise PathOutsideRepository(f"Path {path!r} may not contain `..`.")
    return parts


def _link_target(repo: pygit2.Repository, entry: pygit2.Object, parent: list[str], link: str) -> list[str]:
    blob = repo[entry.id]
    assert isinstance(blob, pygit2.Blob)
    target = blob.data.decode("utf-8", "surrogateescape")
    if target.startswith("/"):
        raise PathOutsideRepository(f"Symlink {link!r} points outside the repository.")
    resolved = list(parent)
    for part in target.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not resolved:
                raise PathOutsideRepository(f"Symlink {link!r} points outside the repository.")
            resolved.pop()
        else:
            resolved.append(part)
    return resolved


def resolve(repo: pygit2.Repository, commit: pygit2.Commit, path: str) -> Entry:
    """Walk the path from the root, following symlinks that stay inside the repository."""
    pending, done, hops = split_path(path), list[str](), 0
    node: pygit2.Object = commit.tree
    mode: int | None = None
    while pending:
        name = pending.pop(0)
        if not isinstance(node, pygit2.Tree) or name not in node:
            raise NotFound(f"Path {path!r} does not exist at this ref.", error_code="path_not_found")
        entry = node[name]
        if entry.filemode == FileMode.LINK:
            hops += 1
            if hops > _MAX_LINK_HOPS:
                raise PathOutsideRepository(f"Path {path!r} has too many levels of symlinks.")
            pending = _link_target(repo, entry, done, "/".join([*done, name])) + pending
            done, node, mode = [], commit.tree, None
            continue
        done.append(name)
        node, mode = repo[entry.id], entry.filemode
    return Entry("/".join(done), node, mode)


def read_file(repo: pygit2.Repository, commit: pygit2.Commit, path: str) -> bytes:
    entry = resolve(repo, commit, path)
    if not isinstance(entry.obj, pygit2.Blob):
        raise NotAFile(f"Path {path!r} is a directory, not a file.")
    return bytes(entry.obj.data)


def _entry_type(mode: int) -> str:
    if mode == FileMode.TREE:
        return "directory"
    if mode == FileMode.LINK:
        return "symlink"
    if mode == FileMode.COMMIT:
        return "submodule"
    return "file"


def list_directory(repo: pygit2.Repository, commit: pygit2.Commit, path: str) -> tuple[str, list[dict[str, Any]]]:
    entry = resolve(repo, commit, path)
    if not isinstance(entry.obj, pygit2.Tree):
        raise NotADirectory(f"Path {path!r} is a file, not a directory.")
    items = []
    for child in entry.obj:
        child_path = f"{entry.path}/{child.name}" if entry.path else child.name
        kind = _entry_type(child.filemode)
        blob = repo[child.id] if kind in ("file", "symlink") else None
        size = blob.size if isinstance(blob, pygit2.Blob) else None
        items.append({"name": child.name, "path": child_path, "type": kind, "size": size})
    return entry.path, items


def _entry_id(tree: pygit2.Tree, path: str) -> pygit2.Oid | None:
    try:
        return tree[path].id if path else tree.id
    except KeyError:
        return None


def touches(commit: pygit2.Commit, path: str) -> bool:
    """Whether the commit changed `path` (git log's rule: it differs from every parent)."""
    mine = _entry_id(commit.tree, path)
    if not commit.parents:
        return mine is not None
    return all(_entry_id(parent.tree, path) != mine for parent in commit.parents)


def history(repo: pygit2.Repository, commit: pygit2.Commit) -> Iterator[pygit2.Commit]:
    yield from repo.walk(commit.id, SortMode.TOPOLOGICAL | SortMode.TIME)


def last_commits(repo: pygit2.Repository, commit: pygit2.Commit, paths: list[str]) -> dict[str, pygit2.Commit]:
    """For each path, the newest commit reachable from `commit` that changed it."""
    pending, found = set(paths), {}
    for candidate in history(repo, commit):
        for path in [p for p in pending if touches(candidate, p)]:
            found[path] = candidate
            pending.discard(path)
        if not pending:
            break
    return found


def _when(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def commit_summary(commit: pygit2.Commit) -> dict[str, Any]:
    return {"sha": str(commit.id), "message": commit.message,
            "author": {"name": commit.author.name, "email": commit.author.email,
                       "timestamp": _when(commit.author.time)},
            "committer": {"name": commit.committer.name, "email": commit.committer.email,
                          "timestamp": _when(commit.commit_time)},
            "timestamp": _when(commit.commit_time), "parent_shas": [str(p) for p in commit.parent_ids]}


_STATUS = {"A": "added", "D": "deleted", "M": "modified", "R": "renamed", "C": "copied", "T": "type_changed"}


def changes(repo: pygit2.Repository, commit: pygit2.Commit, with_stats: bool) -> list[dict[str, Any]]:
    """Files the commit changed against its first parent (everything, for a root commit)."""
    base = commit.parents[0].tree if commit.parents else None
    diff = base.diff_to_tree(commit.tree) if base is not None else commit.tree.diff_to_tree(swap=True)
    diff.find_similar()
    files = []
    for patch in diff:
        if patch is None:
            continue
        delta = patch.delta
        change: dict[str, Any] = {"path": delta.new_file.path, "previous_path": delta.old_file.path
                                  if delta.status_char() in ("R", "C") else None,
                                  "status": _STATUS.get(delta.status_char(), "modified")}
        if with_stats:
            _, additions, deletions = patch.line_stats
            change.update(additions=additions, deletions=deletions)
        files.append(change)
    return files


def branch_names(repo: pygit2.Repository) -> list[str]:
    return sorted(repo.branches.local)
