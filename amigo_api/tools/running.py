"""test-tool and invoke-tool-version, as the API sees them: check the caller and the inputs, start the run on
the tools task queue, wait for its results (docs/tools.md, "Testing and invoking")."""

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio.client import Client

from amigo_api.core.auth import Principal
from amigo_api.core.crypto import SecretBox
from amigo_api.core.db import OrgDb
from amigo_api.core.errors import AmigoError, Conflict, InvalidRequest, NotFound, Unavailable
from amigo_api.core.ids import new_id
from amigo_api.settings import Settings
from amigo_api.tools import schemas as s
from amigo_api.tools import versions
from amigo_api.tools.inputs import validate_inputs
from amigo_api.tools.outcomes import Refusal
from amigo_api.tools.run_workflow import (
    PICK_UP,
    InvokeJob,
    InvokeToolWorkflow,
    RunResults,
    TestJob,
    TestToolWorkflow,
    ToolInput,
)
from amigo_api.tools.runs import seal
from amigo_api.tools.service import get_tool, tool_attributes

ERRORS_BY_STATUS: dict[int, type[AmigoError]] = {400: InvalidRequest, 404: NotFound, 409: Conflict,
                                                 503: Unavailable}
MARGIN_SECONDS = 60
JobT = TypeVar("JobT", InvokeJob, TestJob)


def error_for(refusal: Refusal) -> AmigoError:
    return ERRORS_BY_STATUS.get(refusal.status, Unavailable)(refusal.message, error_code=refusal.error_code)


def require_temporal(temporal: Client | None) -> Client:
    if temporal is None:
        raise Unavailable("Running tools needs the Temporal service and a tool worker (`amigo-api worker`); this "
                          "server is not connected to Temporal.", error_code="temporal_unavailable")
    return temporal


def _inputs(inputs: list[s.Input]) -> list[ToolInput]:
    return [ToolInput(i.input_parameters, i.invocation_mode, i.nonsensitive_user_variables) for i in inputs]


async def _run(temporal: Client | None, settings: Settings, run: Callable[[Any, JobT], Awaitable[RunResults]],
               job: JobT, kind: str) -> s.InvocationResultsResponse:
    client = require_temporal(temporal)
    outcome = await client.execute_workflow(
        run, job, id=f"tool-{kind}-{job.org_id}-{new_id()}", task_queue=settings.tool_task_queue,
        execution_timeout=timedelta(seconds=job.seconds + PICK_UP.total_seconds() + MARGIN_SECONDS))
    if outcome.refusal is not None:
        raise error_for(outcome.refusal)
    return s.InvocationResultsResponse.model_validate({"invocation_results": outcome.results})


async def invoke_version(org: OrgDb, principal: Principal, temporal: Client | None, settings: Settings,
                         box: SecretBox, tool_id: str, version: str, body: s.InvokeToolVersionRequest
                         ) -> s.InvocationResultsResponse:
    principal.require("Tool:InvokeTool", tool_attributes(await get_tool(org, tool_id)))
    chosen = await versions.runnable_version(org, tool_id, version)
    validate_inputs(chosen["input_schema"], [i.input_parameters for i in body.inputs])
    job = InvokeJob(org_id=org.org_id, tool_id=tool_id, version_id=chosen["_id"], user_id=principal.user_id,
                    inputs=_inputs(body.inputs),
                    sealed_user_secrets=seal(box, [i.sensitive_user_variables for i in body.inputs]),
                    seconds=settings.tool_build_timeout_seconds + len(body.inputs) * settings.tool_run_timeout_seconds)
    return await _run(temporal, settings, InvokeToolWorkflow.run, job, "invoke")


async def test_tool(org: OrgDb, temporal: Client | None, settings: Settings, box: SecretBox,
                    body: s.TestToolRequest) -> s.InvocationResultsResponse:
    both = sorted(set(body.required_envvars) & set(body.required_secret_envvars))
    if both:
        raise InvalidRequest(f"Environment variables may not be both secret and non-secret: {', '.join(both)}.",
                             error_code="envvar_secret_and_plain")
    seconds = (settings.tool_build_timeout_seconds + settings.tool_test_timeout_seconds
               + (len(body.inputs) + 1) * settings.tool_run_timeout_seconds)
    job = TestJob(org_id=org.org_id, commit_branch=body.commit_branch, project_path=body.project_path,
                  envvars=body.required_envvars, sealed_secret_envvars=seal(box, body.required_secret_envvars),
                  inputs=_inputs(body.inputs),
                  sealed_user_secrets=seal(box, [i.sensitive_user_variables for i in body.inputs]), seconds=seconds)
    return await _run(temporal, settings, TestToolWorkflow.run, job, "test")
