"""publish-tool-version as a Temporal workflow on the tools task queue. It holds the tool's operation lock
(taken by the API before it starts the workflow, renewed by every activity, released at the end whatever
happens) and runs three activities: resolve the source (the tip of `main` at `project_path`, the project's
`[tool.amigo]` table, the checks that need no build), build and check it in the sandbox (heartbeating, so a
killed worker is noticed in seconds and the step retried on another), and record the version.

Activities refuse as outcomes.py says; this module imports no activity code (the workflow sandbox stays
small)."""

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from amigo_api.tools.outcomes import refusal_of

HEARTBEAT_TIMEOUT = timedelta(seconds=5)
QUICK = timedelta(seconds=60)
# The tool lock lapses this long after its holder stops renewing it (a publish renews it every few seconds).
LOCK_TTL = timedelta(seconds=60)


@dataclass
class PublishJob:
    org_id: str
    tool_id: str
    project_path: str
    bump_type: str
    user_id: str
    user_org_id: str
    lock_owner: str  # the workflow's id: the owner of the tool's lock while it runs
    build_seconds: float


@dataclass
class PublishSource:
    commit: str
    tree_id: str
    entrypoint: str
    envvars: list[str]
    secret_envvars: list[str]
    scaffold_release: str


@dataclass
class BuiltProject:
    build_key: str
    reused: bool
    input_schema: dict[str, Any] = field(default_factory=dict)


@dataclass
class PublishResult:
    status: int
    new_version: str = ""
    error_code: str = ""
    message: str = ""
    build_reused: bool = False


def _result_of_failure(error: ActivityError) -> PublishResult:
    refusal = refusal_of(error, "publishing the version")
    return PublishResult(refusal.status, error_code=refusal.error_code, message=refusal.message)


@workflow.defn(name="PublishToolVersionWorkflow")
class PublishToolVersionWorkflow:
    @workflow.run
    async def run(self, job: PublishJob) -> PublishResult:
        try:
            source: PublishSource = await workflow.execute_activity(
                "resolve_publish_source", job, result_type=PublishSource, start_to_close_timeout=QUICK,
                retry_policy=RetryPolicy(maximum_attempts=5))
            built: BuiltProject = await workflow.execute_activity(
                "build_and_check_tool", args=[job, source], result_type=BuiltProject,
                start_to_close_timeout=timedelta(seconds=job.build_seconds), heartbeat_timeout=HEARTBEAT_TIMEOUT,
                retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=5))
            version: str = await workflow.execute_activity(
                "record_tool_version", args=[job, source, built], start_to_close_timeout=QUICK,
                retry_policy=RetryPolicy(maximum_attempts=5))
            return PublishResult(201, new_version=version, build_reused=built.reused)
        except ActivityError as error:
            return _result_of_failure(error)
        finally:
            await workflow.execute_activity("release_tool_lock", job, start_to_close_timeout=QUICK,
                                            retry_policy=RetryPolicy(maximum_attempts=10))
