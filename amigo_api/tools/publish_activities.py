"""The activities of publish-tool-version (publish_workflow.py); they run on the tools task queue, in the
worker, with its own settings. Each renews the tool's lock for its owner, the workflow."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pygit2
from temporalio import activity

from amigo_api.core.crypto import SecretBox
from amigo_api.core.db import OrgDb
from amigo_api.core.errors import Conflict, InvalidRequest
from amigo_api.core.locks import acquire_lock, release_lock
from amigo_api.sandbox.builds import ensure_build
from amigo_api.tools import versions
from amigo_api.tools.activity_support import WorkerContext, rejecting, while_heartbeating
from amigo_api.tools.project import ProjectSource, branch_tip, check_variables, parse_project, project_at
from amigo_api.tools.publish_workflow import LOCK_TTL, BuiltProject, PublishJob, PublishSource
from amigo_api.tools.repo.storage import DEFAULT_BRANCH, RepoStore
from amigo_api.tools.runtime import build_config, tool_environment
from amigo_api.tools.sandbox_checks import check_in_sandbox
from amigo_api.tools.service import RELATED_OPERATION, get_tool, tool_lock

T = TypeVar("T")


async def _renew_lock(org: OrgDb, job: PublishJob) -> None:
    if not await acquire_lock(org, tool_lock(job.tool_id), job.lock_owner, LOCK_TTL):
        raise Conflict(RELATED_OPERATION, error_code="tool_operation_in_progress")


async def _holding_lock(org: OrgDb, job: PublishJob, work: Awaitable[T]) -> T:
    """Heartbeat, and renew the tool's lock every few seconds, until `work` is done."""
    return await while_heartbeating(work, tick=lambda: _renew_lock(org, job))


def _source(store: RepoStore, job: PublishJob, last_commit: str | None) -> ProjectSource:
    """The project at the tip of main, which must be newer than the last published version's commit."""
    repo, commit = branch_tip(store, job.org_id, DEFAULT_BRANCH)
    source = project_at(repo, commit, job.project_path)
    if last_commit is not None and (commit.id == pygit2.Oid(hex=last_commit)
                                    or not repo.descendant_of(commit.id, pygit2.Oid(hex=last_commit))):
        raise InvalidRequest(f"The tip of main ({commit.id}) is not newer than the commit of the last published "
                             f"version ({last_commit}): push a new commit first.", error_code="commit_not_newer")
    return source


class PublishActivities:
    def __init__(self, context: WorkerContext) -> None:
        self.context = context

    def all(self) -> list[Callable[..., Any]]:
        return [self.resolve_publish_source, self.build_and_check_tool, self.record_tool_version,
                self.release_tool_lock]

    @activity.defn(name="resolve_publish_source")
    @rejecting
    async def resolve_publish_source(self, job: PublishJob) -> PublishSource:
        org, settings = await self.context.org(job.org_id), self.context.settings
        await _renew_lock(org, job)
        tool = await get_tool(org, job.tool_id)
        if tool["deprecated"]:
            raise InvalidRequest("The tool is deprecated: create a new tool to publish.", error_code="tool_deprecated")
        last_commit = await versions.last_commit(org, job.tool_id)
        await versions.check_can_add(org, job.tool_id, job.bump_type, first=last_commit is None)
        source = await asyncio.to_thread(_source, RepoStore(settings.git_root), job, last_commit)
        config = parse_project(source.pyproject)
        check_variables(config, tool)
        return PublishSource(source.commit, source.tree_id, config.entrypoint, config.envvars, config.secret_envvars,
                             config.scaffold_release)

    @activity.defn(name="build_and_check_tool")
    @rejecting
    async def build_and_check_tool(self, job: PublishJob, source: PublishSource) -> BuiltProject:
        org, settings = await self.context.org(job.org_id), self.context.settings
        await _renew_lock(org, job)
        git_dir = RepoStore(settings.git_root).path(job.org_id)
        build = await _holding_lock(org, job, ensure_build(
            git_dir, source.commit, job.project_path, source.tree_id, build_config(settings)))
        tool = await get_tool(org, job.tool_id)
        env = tool_environment(tool, source.envvars, source.secret_envvars, SecretBox(settings.secret_key))
        schema = await _holding_lock(org, job, check_in_sandbox(build, source.entrypoint, env, settings))
        return BuiltProject(build.key, build.reused, schema)

    @activity.defn(name="record_tool_version")
    @rejecting
    async def record_tool_version(self, job: PublishJob, source: PublishSource, built: BuiltProject) -> str:
        org = await self.context.org(job.org_id)
        await _renew_lock(org, job)
        return await versions.record_version(org, job, source, built)

    @activity.defn(name="release_tool_lock")
    async def release_tool_lock(self, job: PublishJob) -> None:
        await release_lock(await self.context.org(job.org_id), tool_lock(job.tool_id), job.lock_owner)
