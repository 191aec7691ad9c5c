"""HTTP endpoints of the read-only SQL endpoint (tag Admin)."""

from typing import Annotated

from fastapi import Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from amigo_api.admin.sql import schemas as s
from amigo_api.admin.sql import service
from amigo_api.admin.sql.auth import SqlQuerier
from amigo_api.admin.sql.engine import SnapshotCache
from amigo_api.core.db import OrgDbDep
from amigo_api.core.ids import object_id_path
from amigo_api.core.openapi import error_responses
from amigo_api.core.ratelimit import anonymous_rate_limit, rate_limit
from amigo_api.core.routing import domain_router
from amigo_api.core.state import AppSettings, Blobs, TemporalClient, from_app_state

router = domain_router("/v1/{organization}/admin", tags=["Admin"])
Snapshots = Annotated[SnapshotCache, Depends(from_app_state("sql_snapshots", SnapshotCache))]


@router.post("/sql_query", operation_id="submit-sql-query", summary="Submit a SQL query",
             response_model=s.SqlQueryResult | s.AsyncSqlQueryAccepted, dependencies=[rate_limit(6)],
             responses=error_responses(
                 r404="The specified organization does not exist.",
                 r408="The supplied query cannot be executed within the time limit.",
                 r400="This endpoint is not supported in the current environment, or the SQL query is invalid."))
async def submit_sql_query(request: Request, org: OrgDbDep, principal: SqlQuerier, settings: AppSettings,
                           snapshots: Snapshots, temporal: TemporalClient, body: s.SubmitSqlQueryRequest
                           ) -> s.SqlQueryResult | s.AsyncSqlQueryAccepted:
    """Run one read-only query over this organization's data (tables: GET sql_schema). Needs greater
    privileges than DefaultAdministratorRole. Synchronous: at most 1000 rows, 30 s (408 after). With
    `async_query`, answers at once with a signed `result_url` serving the CSV when done."""
    if body.async_query:
        return await service.submit_async(org, principal, temporal, settings, body.sql_query, str(request.base_url))
    return await service.run_sync(org, snapshots, settings, body.sql_query)


@router.get("/sql_schema", operation_id="get-sql-schema", summary="Get the SQL tables and columns",
            response_model=s.SqlSchemaResponse, dependencies=[rate_limit(20)],
            responses=error_responses(r400="SQL is not supported in this environment."))
async def get_sql_schema(_org: OrgDbDep, _: SqlQuerier) -> s.SqlSchemaResponse:
    """An extension of the contract: the tables `sql_query` can read, with their DuckDB column types (declared:
    the same whatever is stored)."""
    return service.schema()


def _result_identity(request: Request) -> str:
    return f"sql-result/{request.path_params.get('query_id', '')}"


@router.get("/sql_query/{query_id}/result", operation_id="get-sql-query-result",
            summary="Get the result of an asynchronous SQL query", response_class=StreamingResponse,
            dependencies=[anonymous_rate_limit(120, _result_identity)],
            responses={200: {"content": {"text/csv": {}}}, 202: {"description": "Still running; see Retry-After."},
                       **error_responses(r400="The query failed; `detail` says why.",
                                         r403="The URL's signature is invalid or has expired.",
                                         r404="The query does not exist.")},
            openapi_extra={"security": []})
async def get_sql_query_result(org: OrgDbDep, settings: AppSettings, blobs: Blobs,
                               query_id: Annotated[str, object_id_path()],
                               expires: Annotated[int, Query(ge=0, le=2**40)] = 0,
                               signature: Annotated[str, Query(max_length=128)] = "") -> Response:
    """The signed URL returned by an asynchronous `sql_query` (no other credentials needed)."""
    service.verify_signature(settings, org.org_id, query_id, expires, signature)
    return StreamingResponse(await service.result_stream(org, blobs, query_id), media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="{query_id}.csv"'})
