"""The activities of publish-tool-version (publish_workflow.py); they run on the tools task queue, in the
worker, with its own settings. Each renews the tool's lock for its owner, the workflow."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import pygit2
from temporalio import activity

from amigo_api.core.crypto import SecretBox
from amigo_api.core.db import Clusters, OrgDb
from amigo_api.core.errors import AmigoError, Conflict, InvalidRequest, NotFound
from amigo_api.core.locks import acquire_lock, release_lock
from amigo_api.sandbox.builds import BuildFailed, ensure_build
from amigo_api.sandbox.confinement import SandboxUnavailable
from amigo_api.settings import Settings, get_settings
from amigo_api.tools import versions
from amigo_api.tools.project import check_variables, parse_project
from amigo_api.tools.publish_workflow import LOCK_TTL, BuiltProject, PublishJob, PublishSource, rejection
from amigo_api.tools.repo.reader import open_repository, resolve
from amigo_api.tools.repo.storage import DEFAULT_BRANCH, RepoStore
from amigo_api.tools.runtime import build_config, tool_environment
from amigo_api.tools.sandbox_checks import check_in_sandbox
from amigo_api.tools.service import RELATED_OPERATION, get_tool, tool_lock

P = ParamSpec("P")
T = TypeVar("T")
RENEW_EVERY_SECONDS = 10.0


def rejecting(function: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Refusals (our errors, a worker that cannot confine) end the publish with their status; anything
    else is an infrastructure failure that Temporal retries."""
    @wraps(function)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await function(*args, **kwargs)
        except AmigoError as error:
            raise rejection(error.status_code, error.error_code, error.detail) from error
        except BuildFailed as error:
            raise rejection(400, "tool_build_failed", str(error)) from error
        except SandboxUnavailable as error:
            raise rejection(503, "tool_sandbox_unavailable", str(error)) from error
    return run


@asynccontextmanager
async def _organization(job: PublishJob) -> AsyncIterator[tuple[OrgDb, Settings]]:
    settings = get_settings()
    clusters = Clusters(settings)
    try:
        yield await clusters.org_db(job.org_id), settings
    finally:
        await clusters.close()


async def _renew_lock(org: OrgDb, job: PublishJob) -> None:
    if not await acquire_lock(org, tool_lock(job.tool_id), job.lock_owner, LOCK_TTL):
        raise Conflict(RELATED_OPERATION, error_code="tool_operation_in_progress")


async def _while_heartbeating(org: OrgDb, job: PublishJob, work: Awaitable[T]) -> T:
    """Heartbeat every second and renew the lock every few seconds until `work` is done."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    renewed = loop.time()
    try:
        while not task.done():
            activity.heartbeat()
            if loop.time() - renewed > RENEW_EVERY_SECONDS:
                await _renew_lock(org, job)
                renewed = loop.time()
            await asyncio.wait([task], timeout=1)
        return task.result()
    finally:
        task.cancel()


def _source(store: RepoStore, job: PublishJob, last_commit: str | None) -> tuple[str, str, bytes]:
    """The tip of main, the project's tree id and its pyproject.toml (404s as the contract lists them)."""
    path = store.path(job.org_id)
    if not (path / "HEAD").exists():
        raise NotFound("The tool repository is empty: push the project first.", error_code="repository_empty")
    repo = open_repository(path)
    branch = repo.references.get(f"refs/heads/{DEFAULT_BRANCH}")
    if branch is None:
        raise NotFound("The tool repository has no commits on main.", error_code="repository_empty")
    commit = branch.peel(pygit2.Commit)
    entry = resolve(repo, commit, job.project_path)
    if not isinstance(entry.obj, pygit2.Tree) or "pyproject.toml" not in entry.obj:
        raise NotFound(f"There is no pyproject.toml in {job.project_path!r} at the tip of main.",
                       error_code="project_not_found")
    pyproject = repo[entry.obj["pyproject.toml"].id]
    if not isinstance(pyproject, pygit2.Blob):
        raise NotFound(f"{job.project_path}/pyproject.toml is not a file.", error_code="project_not_found")
    if last_commit is not None and (commit.id == pygit2.Oid(hex=last_commit)
                                    or not repo.descendant_of(commit.id, pygit2.Oid(hex=last_commit))):
        raise InvalidRequest(f"The tip of main ({commit.id}) is not newer than the commit of the last published "
                         f"version ({last_commit}): push a new commit first.", error_code="commit_not_newer")
    return str(commit.id), str(entry.obj.id), pyproject.data


@activity.defn(name="resolve_publish_source")
@rejecting
async def resolve_publish_source(job: PublishJob) -> PublishSource:
    async with _organization(job) as (org, settings):
        await _renew_lock(org, job)
        tool = await get_tool(org, job.tool_id)
        if tool["deprecated"]:
            raise InvalidRequest("The tool is deprecated: create a new tool to publish.", error_code="tool_deprecated")
        last_commit = await versions.last_commit(org, job.tool_id)
        await versions.check_can_add(org, job.tool_id, job.bump_type, first=last_commit is None)
        commit, tree_id, pyproject = await asyncio.to_thread(_source, RepoStore(settings.git_root), job, last_commit)
        config = parse_project(pyproject)
        check_variables(config, tool)
        return PublishSource(commit, tree_id, config.entrypoint, config.envvars, config.secret_envvars,
                             config.scaffold_release)


@activity.defn(name="build_and_check_tool")
@rejecting
async def build_and_check_tool(job: PublishJob, source: PublishSource) -> BuiltProject:
    async with _organization(job) as (org, settings):
        await _renew_lock(org, job)
        git_dir = RepoStore(settings.git_root).path(job.org_id)
        build = await _while_heartbeating(org, job, ensure_build(
            git_dir, source.commit, job.project_path, source.tree_id, build_config(settings)))
        tool = await get_tool(org, job.tool_id)
        env = tool_environment(tool, source.envvars, source.secret_envvars, SecretBox(settings.secret_key))
        schema = await _while_heartbeating(org, job, check_in_sandbox(build, source.entrypoint, env, settings))
        return BuiltProject(build.key, build.reused, schema)


@activity.defn(name="record_tool_version")
@rejecting
async def record_tool_version(job: PublishJob, source: PublishSource, built: BuiltProject) -> str:
    async with _organization(job) as (org, _):
        await _renew_lock(org, job)
        return await versions.record_version(org, job, source, built)


@activity.defn(name="release_tool_lock")
async def release_tool_lock(job: PublishJob) -> None:
    async with _organization(job) as (org, _):
        await release_lock(org, tool_lock(job.tool_id), job.lock_owner)


ACTIVITIES: list[Callable[..., Any]] = [resolve_publish_source, build_and_check_tool, record_tool_version,
                                        release_tool_lock]
