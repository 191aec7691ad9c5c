"""publish-tool-version, as the API sees it: check the caller, take the tool's lock for the workflow, start
the workflow on the tools task queue and wait for its answer (the contract's call takes minutes)."""

from datetime import timedelta

from temporalio.client import Client

from amigo_api.core.auth import Principal
from amigo_api.core.db import OrgDb
from amigo_api.core.errors import Conflict
from amigo_api.core.ids import new_id
from amigo_api.core.locks import acquire_lock, release_lock
from amigo_api.settings import Settings
from amigo_api.tools import schemas as s
from amigo_api.tools.outcomes import Refusal
from amigo_api.tools.publish_workflow import LOCK_TTL, PublishJob, PublishToolVersionWorkflow
from amigo_api.tools.running import error_for, require_temporal
from amigo_api.tools.service import RELATED_OPERATION, get_tool, tool_attributes, tool_lock

# Around the build and the tests: resolving, recording and queueing.
MARGIN_SECONDS = 120


async def publish_version(org: OrgDb, principal: Principal, temporal: Client | None, settings: Settings,
                          tool_id: str, body: s.PublishToolVersionRequest) -> s.PublishToolVersionResponse:
    principal.require("Tool:ModifyTool", tool_attributes(await get_tool(org, tool_id)))
    temporal = require_temporal(temporal)
    workflow_id = f"tool-publish-{org.org_id}-{tool_id}-{new_id()}"
    if not await acquire_lock(org, tool_lock(tool_id), workflow_id, LOCK_TTL):
        raise Conflict(RELATED_OPERATION, error_code="tool_operation_in_progress")
    build_seconds = settings.tool_build_timeout_seconds + 2 * settings.tool_test_timeout_seconds
    job = PublishJob(org_id=org.org_id, tool_id=tool_id, project_path=body.project_path, bump_type=body.bump_type,
                     user_id=principal.user_id, user_org_id=principal.issuer_org_id, lock_owner=workflow_id,
                     build_seconds=build_seconds)
    try:
        handle = await temporal.start_workflow(
            PublishToolVersionWorkflow.run, job, id=workflow_id, task_queue=settings.tool_task_queue,
            execution_timeout=timedelta(seconds=build_seconds + MARGIN_SECONDS))
    except BaseException:
        await release_lock(org, tool_lock(tool_id), workflow_id)  # never started: nobody else will
        raise
    result = await handle.result()  # the workflow releases the lock however it ends
    if result.status != 201:
        raise error_for(Refusal(result.status, result.error_code, result.message))
    return s.PublishToolVersionResponse(new_version=result.new_version)
