"""HTTP endpoints of prompt logs (tag Admin): download, and an extension to record them."""

from typing import Annotated

from fastapi import Query, status
from fastapi.responses import StreamingResponse

from amigo_api.admin.prompt_logs import schemas as s
from amigo_api.admin.prompt_logs import service
from amigo_api.admin.prompt_logs.auth import PromptLogReader, PromptLogWriter
from amigo_api.core.db import OrgDbDep
from amigo_api.core.openapi import error_responses
from amigo_api.core.ratelimit import rate_limit
from amigo_api.core.request_guard import body_limit
from amigo_api.core.routing import domain_router
from amigo_api.core.state import AppSettings, Blobs

router = domain_router("/v1/{organization}/admin", tags=["Admin"])


@router.get("/get_prompt_logs/", operation_id="get-prompt-logs", summary="Get prompt logs",
            response_class=StreamingResponse, dependencies=[rate_limit(20)],
            responses={200: {"description": "Succeeded.", "content": {"application/zip": {}}},
                       **error_responses(r404="No prompt logs found matching the supplied prefix",
                                         r400="More than 1000 prompt logs match the prefix.")})
async def get_prompt_logs(org: OrgDbDep, principal: PromptLogReader, settings: AppSettings, blobs: Blobs,
                          prompt_log_prefix: Annotated[str, Query(max_length=512)]) -> StreamingResponse:
    """Download the prompt logs of the past 30 days whose keys start with the prefix (at most 1000), as a zip
    streamed while it is built: `{log_key}-system`, `{log_key}-history` (history prompts separated by a `---`
    line), or `{log_key}-error` in place of a log the caller lacks a required permission for. If generation
    fails after streaming began, the stream ends and the bytes are not a valid zip."""
    body = await service.download(org, principal, blobs, settings.prompt_log_retention_days, prompt_log_prefix)
    return StreamingResponse(body, media_type="application/zip", headers={
        "Content-Disposition": 'attachment; filename="prompt_logs.zip"'})


@router.post("/prompt_logs/", operation_id="write-prompt-log", summary="Record a prompt log",
             status_code=status.HTTP_201_CREATED, response_model=s.WritePromptLogResponse,
             dependencies=[rate_limit(600)], openapi_extra=body_limit(service.MAX_PROMPT_LOG_BYTES),
             responses=error_responses(r409="A prompt log with this key already exists.",
                                       r400="A required permission name is not known."))
async def write_prompt_log(org: OrgDbDep, principal: PromptLogWriter, settings: AppSettings, blobs: Blobs,
                           body: s.WritePromptLogRequest) -> s.WritePromptLogResponse:
    """An extension of the contract: record a prompt log with the permissions a reader must hold."""
    return await service.write_prompt_log(org, principal, blobs, settings.prompt_log_retention_days, body)
