"""HTTP endpoints of the Admin tag: models, prompt logs (download, and an extension to record them) and SQL."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from amigo_api.admin import prompt_logs, sql
from amigo_api.admin import schemas as s
from amigo_api.admin.service import ModelRegistry
from amigo_api.admin.sql_engine import SnapshotCache
from amigo_api.core.auth import CurrentPrincipal, Principal, require
from amigo_api.core.blobs import BlobStore
from amigo_api.core.db import OrgDbDep
from amigo_api.core.ids import OBJECT_ID_PATTERN
from amigo_api.core.openapi import error_responses
from amigo_api.core.ratelimit import anonymous_rate_limit, rate_limit
from amigo_api.core.request_guard import body_limit
from amigo_api.core.state import AppSettings, from_app_state

router = APIRouter(prefix="/v1/{organization}/admin", tags=["Admin"])
ModelReader = Annotated[Principal, Depends(require("Admin:GetModels"))]
PromptLogWriter = Annotated[Principal, Depends(require("Admin:WritePromptLog"))]
Snapshots = Annotated[SnapshotCache, Depends(from_app_state("sql_snapshots", SnapshotCache))]
Blobs = Annotated[BlobStore, Depends(from_app_state("blobs", BlobStore))]
Registry = Annotated[ModelRegistry, Depends(from_app_state("model_registry", ModelRegistry))]


@router.get("/get_models/", operation_id="get-models", summary="Get models", response_model=s.GetModelsResponse,
            dependencies=[rate_limit(20)], responses=error_responses(401, 403, rate_limit=20))
async def get_models(_: ModelReader, registry: Registry) -> s.GetModelsResponse:
    """Get a list of LLM models supported by the Amigo platform at this moment, each with the JSON Schema
    of the `params` a version set's `llm_model_preferences` may give it."""
    return s.GetModelsResponse(models=[s.Model.model_validate(m) for m in registry.supported()])


# Prompt logs ----------------------------------------------------------------------------------------

@router.get("/get_prompt_logs/", operation_id="get-prompt-logs", summary="Get prompt logs",
            response_class=StreamingResponse, dependencies=[rate_limit(20)],
            responses={200: {"description": "Succeeded.", "content": {"application/zip": {}}},
                       **error_responses(401, 403, rate_limit=20,
                                         r404="No prompt logs found matching the supplied prefix",
                                         r400="More than 1000 prompt logs match the prefix.")})
async def get_prompt_logs(org: OrgDbDep, principal: CurrentPrincipal, settings: AppSettings, blobs: Blobs,
                          prompt_log_prefix: Annotated[str, Query(max_length=512)]) -> StreamingResponse:
    """Download the prompt logs of the past 30 days whose keys start with the prefix (at most 1000), as a zip
    streamed while it is built: `{log_key}-system`, `{log_key}-history` (history prompts separated by a `---`
    line), or `{log_key}-error` in place of a log the caller lacks a required permission for. If generation
    fails after streaming began, the stream ends and the bytes are not a valid zip."""
    body = await prompt_logs.download(org, principal, blobs, settings.prompt_log_retention_days,
                                      prompt_log_prefix)
    return StreamingResponse(body, media_type="application/zip", headers={
        "Content-Disposition": 'attachment; filename="prompt_logs.zip"'})


@router.post("/prompt_logs/", operation_id="write-prompt-log", summary="Record a prompt log",
             status_code=status.HTTP_201_CREATED, response_model=s.WritePromptLogResponse,
             dependencies=[rate_limit(600)], openapi_extra=body_limit(prompt_logs.MAX_PROMPT_LOG_BYTES),
             responses=error_responses(401, 403, rate_limit=600, r409="A prompt log with this key already exists.",
                                       r400="A required permission name is not known."))
async def write_prompt_log(org: OrgDbDep, principal: PromptLogWriter, settings: AppSettings, blobs: Blobs,
                           body: s.WritePromptLogRequest) -> s.WritePromptLogResponse:
    """An extension of the contract: record a prompt log with the permissions a reader must hold."""
    principal.require("Admin:WritePromptLog", {"log_key": body.log_key})
    return await prompt_logs.record_prompt_log(org, blobs, settings.prompt_log_retention_days, body)


# SQL ------------------------------------------------------------------------------------------------

@router.post("/sql_query", operation_id="submit-sql-query", summary="Submit a SQL query",
             response_model=s.SqlQueryResult | s.AsyncSqlQueryAccepted, dependencies=[rate_limit(6)],
             responses=error_responses(
                 401, 403, rate_limit=6, r404="The specified organization does not exist.",
                 r408="The supplied query cannot be executed within the time limit.",
                 r400="This endpoint is not supported in the current environment, or the SQL query is invalid."))
async def submit_sql_query(request: Request, org: OrgDbDep, principal: CurrentPrincipal, settings: AppSettings,
                           snapshots: Snapshots, body: s.SubmitSqlQueryRequest
                           ) -> s.SqlQueryResult | s.AsyncSqlQueryAccepted:
    """Run one read-only query over this organization's data (tables: GET sql_schema). Needs greater
    privileges than DefaultAdministratorRole. Synchronous: at most 1000 rows, 30 s (408 after). With
    `async_query`, answers at once with a signed `result_url` serving the CSV when done."""
    await sql.authorize(org, principal, settings)
    if body.async_query:
        return await sql.submit_async(org, principal, request.app.state.temporal, settings, body.sql_query,
                                      str(request.base_url))
    return await sql.run_sync(org, snapshots, settings, body.sql_query)


@router.get("/sql_schema", operation_id="get-sql-schema", summary="Get the SQL tables and columns",
            response_model=s.SqlSchemaResponse, dependencies=[rate_limit(20)],
            responses=error_responses(401, 403, rate_limit=20, r400="SQL is not supported in this environment."))
async def get_sql_schema(org: OrgDbDep, principal: CurrentPrincipal, settings: AppSettings, snapshots: Snapshots
                         ) -> s.SqlSchemaResponse:
    """An extension of the contract: the tables `sql_query` can read, with their DuckDB column types."""
    await sql.authorize(org, principal, settings)
    return await sql.schema(org, snapshots)


def _result_identity(request: Request) -> str:
    return f"sql-result/{request.path_params.get('query_id', '')}"


@router.get("/sql_query/{query_id}/result", operation_id="get-sql-query-result",
            summary="Get the result of an asynchronous SQL query", response_class=StreamingResponse,
            dependencies=[Depends(anonymous_rate_limit(120, _result_identity))],
            responses={200: {"content": {"text/csv": {}}}, 202: {"description": "Still running; see Retry-After."},
                       **error_responses(rate_limit=120, r400="The query failed; `detail` says why.",
                                         r403="The URL's signature is invalid or has expired.",
                                         r404="The query does not exist.")},
            openapi_extra={"security": []})
async def get_sql_query_result(org: OrgDbDep, settings: AppSettings, blobs: Blobs,
                               query_id: Annotated[str, Path(pattern=OBJECT_ID_PATTERN)],
                               expires: Annotated[int, Query(ge=0, le=2**40)] = 0,
                               signature: Annotated[str, Query(max_length=128)] = "") -> Response:
    """The signed URL returned by an asynchronous `sql_query` (no other credentials needed)."""
    sql.verify_signature(settings, org.org_id, query_id, expires, signature)
    return StreamingResponse(await sql.result_stream(org, blobs, query_id), media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="{query_id}.csv"'})
