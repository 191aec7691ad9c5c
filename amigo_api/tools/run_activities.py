"""The activities of invoke-tool-version and test-tool (run_workflow.py), on the tools task queue."""

import asyncio
from collections.abc import Callable
from typing import Any

from temporalio import activity

from amigo_api.core.crypto import SecretBox
from amigo_api.core.errors import InvalidRequest, NotFound
from amigo_api.sandbox.builds import ensure_build
from amigo_api.tools import invocations
from amigo_api.tools.activity_support import WorkerContext, rejecting, while_heartbeating
from amigo_api.tools.inputs import validate_inputs
from amigo_api.tools.project import ProjectConfig, ProjectSource, branch_tip, parse_project, project_at
from amigo_api.tools.repo.storage import RepoStore
from amigo_api.tools.repository import ToolVersionRepository
from amigo_api.tools.run_workflow import InvokeJob, TestJob
from amigo_api.tools.runs import run_inputs, unseal
from amigo_api.tools.runtime import build_config, tool_environment
from amigo_api.tools.sandbox_checks import check_in_sandbox
from amigo_api.tools.service import get_tool


class RunActivities:
    def __init__(self, context: WorkerContext) -> None:
        self.context = context
        self.box = SecretBox(context.settings.secret_key)

    def all(self) -> list[Callable[..., Any]]:
        return [self.invoke_tool_version, self.test_tool]

    @activity.defn(name="invoke_tool_version")
    @rejecting
    async def invoke_tool_version(self, job: InvokeJob) -> list[dict[str, Any]]:
        org, settings = await self.context.org(job.org_id), self.context.settings
        tool = await get_tool(org, job.tool_id)
        version = await ToolVersionRepository(org).load_one({"_id": job.version_id, "tool_id": job.tool_id,
                                                              "deprecated": False})
        if version is None or "entrypoint" not in version or "tree_id" not in version:
            raise NotFound("The tool version does not exist or was deprecated.", error_code="tool_version_not_found")
        git_dir = RepoStore(settings.git_root).path(job.org_id)
        build = await while_heartbeating(ensure_build(git_dir, version["tool_commit_hash"],
                                                      version["project_directory"], version["tree_id"],
                                                      build_config(settings)))
        env = tool_environment(tool, version["required_envvars"], version["required_secret_envvars"], self.box)
        results = await while_heartbeating(run_inputs(build, version["entrypoint"], env, job.inputs,
                                                      unseal(self.box, job.sealed_user_secrets), settings))
        info = activity.info()
        await invocations.record(org, info.workflow_id or info.activity_id, version, job.user_id, job.inputs,
                                 results)
        return results

    @activity.defn(name="test_tool")
    @rejecting
    async def test_tool(self, job: TestJob) -> list[dict[str, Any]]:
        settings = self.context.settings
        store = RepoStore(settings.git_root)

        def read() -> ProjectSource:
            repo, commit = branch_tip(store, job.org_id, job.commit_branch)
            return project_at(repo, commit, job.project_path)

        source = await asyncio.to_thread(read)
        config = parse_project(source.pyproject)
        secret_envvars: dict[str, str] = unseal(self.box, job.sealed_secret_envvars)
        _check_declared(config, job.envvars, secret_envvars)
        build = await while_heartbeating(ensure_build(store.path(job.org_id), source.commit, job.project_path,
                                                      source.tree_id, build_config(settings)))
        env = {**job.envvars, **secret_envvars}
        schema = await while_heartbeating(check_in_sandbox(build, config.entrypoint, env, settings))
        validate_inputs(schema, [i.input_parameters for i in job.inputs])
        return await while_heartbeating(run_inputs(build, config.entrypoint, env, job.inputs,
                                                   unseal(self.box, job.sealed_user_secrets), settings))


def _check_declared(config: ProjectConfig, envvars: dict[str, str], secret_envvars: dict[str, str]) -> None:
    """Every variable the project reads must be in the request, on the same side."""
    missing = [n for n in config.envvars if n not in envvars] + [
        f"{n} (secret)" for n in config.secret_envvars if n not in secret_envvars]
    if missing:
        raise InvalidRequest(f"The project needs environment variables the request does not give: "
                             f"{', '.join(missing)}.", error_code="envvars_missing")
