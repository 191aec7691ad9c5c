"""invoke-tool-version and test-tool as Temporal workflows on the tools task queue: one activity each, which
builds (or finds the build of) the project and runs every input in the sandbox.

Values a workflow history must not hold in the clear (sensitive user variables, test-tool's secret variables)
travel sealed with the service's key and are opened inside the activity only.

The workflows run outside Temporal's workflow sandbox: they only call one activity (nothing that could break
determinism), and re-importing this module in a sandbox for each run costs every invoke ~10 ms.

A run is not retried: tool code may have effects beyond its answer (a message sent, a record written), so a
worker that dies mid-run ends the request with a clear 503 rather than run the tool a second time."""

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from amigo_api.tools.outcomes import Refusal, refusal_of

HEARTBEAT_TIMEOUT = timedelta(seconds=5)
# A run waits this long for a worker of the tools queue to take it before it fails as unavailable.
PICK_UP = timedelta(seconds=60)


@dataclass
class ToolInput:
    input_parameters: dict[str, Any]
    invocation_mode: str
    nonsensitive_user_variables: dict[str, str]


@dataclass
class InvokeJob:
    org_id: str
    tool_id: str
    version_id: str
    user_id: str
    inputs: list[ToolInput]
    sealed_user_secrets: str  # the inputs' sensitive user variables, a sealed JSON list
    seconds: float


@dataclass
class TestJob:
    org_id: str
    commit_branch: str
    project_path: str
    envvars: dict[str, str]
    sealed_secret_envvars: str  # a sealed JSON object
    inputs: list[ToolInput]
    sealed_user_secrets: str
    seconds: float


@dataclass
class RunResults:
    results: list[dict[str, Any]] = field(default_factory=list)
    refusal: Refusal | None = None


async def _run(activity_name: str, job: InvokeJob | TestJob) -> RunResults:
    try:
        results: list[dict[str, Any]] = await workflow.execute_activity(
            activity_name, job, start_to_close_timeout=timedelta(seconds=job.seconds),
            schedule_to_start_timeout=PICK_UP, heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=RetryPolicy(maximum_attempts=1))
        return RunResults(results=results)
    except ActivityError as error:
        return RunResults(refusal=refusal_of(error, "running the tool"))


@workflow.defn(name="InvokeToolWorkflow", sandboxed=False)
class InvokeToolWorkflow:
    @workflow.run
    async def run(self, job: InvokeJob) -> RunResults:
        return await _run("invoke_tool_version", job)


@workflow.defn(name="TestToolWorkflow", sandboxed=False)
class TestToolWorkflow:
    @workflow.run
    async def run(self, job: TestJob) -> RunResults:
        return await _run("test_tool", job)
