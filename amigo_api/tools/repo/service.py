"""Rules for the tool repository: who pushed what, and the read endpoints over pygit2 (run in a thread so the
event loop never waits on the disk)."""

import asyncio
import base64
import itertools
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import pygit2

from amigo_api.core.auth import Principal
from amigo_api.core.clock import as_utc, utcnow
from amigo_api.core.db import OrgDb
from amigo_api.core.errors import InvalidRequest, NotFound
from amigo_api.core.ids import new_id
from amigo_api.tools.repo import reader
from amigo_api.tools.repo import schemas as s
from amigo_api.tools.repo.git_http import RefUpdate
from amigo_api.tools.repo.repository import PushRepository
from amigo_api.tools.repo.storage import RepoStore

T = TypeVar("T")


async def ensure_indexes(db: Any) -> None:
    await PushRepository.ensure_indexes(db)


async def _read(store: RepoStore, org_id: str, work: Callable[[pygit2.Repository], T]) -> T:
    path = await store.ensure(org_id)
    return await asyncio.to_thread(lambda: work(reader.open_repository(path)))


# Git over HTTP --------------------------------------------------------------------------------------

def push_recorder(org: OrgDb, principal: Principal) -> Callable[[list[RefUpdate]], Any]:
    async def record(updates: list[RefUpdate]) -> None:
        now = utcnow()
        await PushRepository(org).insert_many([
            {"_id": new_id(), "ref": u.ref, "old_sha": u.old_sha, "new_sha": u.new_sha, "pushed_at": now,
             "user": principal.user_info} for u in updates])

    return record


# Reads ----------------------------------------------------------------------------------------------

async def read_file(store: RepoStore, org_id: str, ref: str, path: str) -> bytes:
    return await _read(store, org_id, lambda repo: reader.read_file(repo, reader.resolve_commit(repo, ref), path))


def _decoded(path: str, data: bytes) -> s.FileContent:
    try:
        return s.FileContent(path=path, size=len(data), encoding="utf-8", content=data.decode("utf-8"))
    except UnicodeDecodeError:
        return s.FileContent(path=path, size=len(data), encoding="base64", content=base64.b64encode(data).decode())


async def read_files(store: RepoStore, org_id: str, body: s.GetFilesRequest) -> s.GetFilesResponse:
    def work(repo: pygit2.Repository) -> s.GetFilesResponse:
        commit = reader.resolve_commit(repo, body.ref)
        files = [_decoded(path, reader.read_file(repo, commit, path)) for path in body.paths]
        return s.GetFilesResponse(sha=str(commit.id), files=files)

    return await _read(store, org_id, work)


async def read_directory(store: RepoStore, org_id: str, ref: str, path: str, include_last_commit: bool
                         ) -> s.DirectoryResponse:
    def work(repo: pygit2.Repository) -> s.DirectoryResponse:
        commit = reader.resolve_commit(repo, ref)
        resolved, entries = reader.list_directory(repo, commit, path)
        if include_last_commit:
            latest = reader.last_commits(repo, commit, [e["path"] for e in entries])
            for entry in entries:
                found = latest.get(entry["path"])
                entry["last_commit"] = reader.commit_summary(found) if found else None
        return s.DirectoryResponse.model_validate({"path": resolved, "sha": str(commit.id), "entries": entries})

    return await _read(store, org_id, work)


def _in_window(commit: pygit2.Commit, since: datetime | None, until: datetime | None) -> bool:
    when = commit.commit_time
    return (since is None or when >= as_utc(since).timestamp()) and (until is None or when <= as_utc(until).timestamp())


async def list_commits(store: RepoStore, org_id: str, *, ref: str, path: str | None, since: datetime | None,
                       until: datetime | None, limit: int, page: int, include_changed_files: bool,
                       include_stats: bool, max_commits: int) -> s.GetCommitsResponse:
    """Newest first; `continuation_token` is the 1-based page number. One page walks at most `max_commits`."""
    if page * limit > max_commits:
        raise InvalidRequest(f"Pages reach at most {max_commits} commits deep; narrow the history with `since`, "
                             "`until` or a ref further back.", error_code="history_too_deep")

    def work(repo: pygit2.Repository) -> s.GetCommitsResponse:
        commit = reader.resolve_commit(repo, ref)
        resolved = reader.resolve(repo, commit, path).path if path else None
        skip, picked = (page - 1) * limit, []
        for candidate in itertools.islice(reader.history(repo, commit), max_commits):
            if not _in_window(candidate, since, until) or (resolved and not reader.touches(candidate, resolved)):
                continue
            if skip:
                skip -= 1
                continue
            picked.append(candidate)
            if len(picked) > limit:
                break
        has_more = len(picked) > limit
        commits = []
        for chosen in picked[:limit]:
            summary = reader.commit_summary(chosen)
            if include_changed_files or include_stats:
                summary["changed_files"] = reader.changes(repo, chosen, include_stats)
            commits.append(s.CommitInstance.model_validate(summary))
        return s.GetCommitsResponse(commits=commits, has_more=has_more, continuation_token=page + 1 if has_more
                                    else None)

    return await _read(store, org_id, work)


def _branch_summary(repo: pygit2.Repository, name: str) -> dict[str, Any]:
    commit = repo.branches.local[name].peel(pygit2.Commit)
    summary = reader.commit_summary(commit)
    return {"name": name, "sha": summary["sha"], "message": summary["message"], "timestamp": summary["timestamp"]}


async def get_branch(org: OrgDb, store: RepoStore, name: str) -> s.BranchResponse:
    def work(repo: pygit2.Repository) -> dict[str, Any]:
        if not reader.has_branch(repo, name):
            raise NotFound(f"The branch {name!r} does not exist.", error_code="branch_not_found")
        return _branch_summary(repo, name)

    summary = await _read(store, org.org_id, work)
    push = await PushRepository(org).latest_for(f"refs/heads/{name}", summary["sha"])
    return s.BranchResponse(**summary, committer=push["user"] if push else None)


async def list_branches(store: RepoStore, org_id: str, limit: int, page: int) -> s.GetBranchesResponse:
    def work(repo: pygit2.Repository) -> s.GetBranchesResponse:
        names = reader.branch_names(repo)
        start = (page - 1) * limit
        chosen = names[start:start + limit]
        has_more = len(names) > start + limit
        return s.GetBranchesResponse(branches=[s.BranchSummary(**_branch_summary(repo, n)) for n in chosen],
                                     has_more=has_more, continuation_token=page + 1 if has_more else None)

    return await _read(store, org_id, work)
