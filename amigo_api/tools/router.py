"""HTTP endpoints of the tool registry (tag Tool): tools, their environment variables, and the scaffold."""

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import Depends, Path, Query, Response, status

from amigo_api.core.db import OrgDbDep
from amigo_api.core.ids import object_id_path
from amigo_api.core.openapi import error_responses
from amigo_api.core.pagination import ContinuationToken, IdFilter, SortBy, unique
from amigo_api.core.ratelimit import rate_limit
from amigo_api.core.routing import domain_router
from amigo_api.core.state import AppSettings, Secrets, TemporalClient, from_app_state
from amigo_api.tools import invocations, publishing, running, service
from amigo_api.tools import schemas as s
from amigo_api.tools import versions as versions_service
from amigo_api.tools.auth import Member, RepoWriter, ToolCreator, ToolDeleter, ToolInvoker, ToolModifier
from amigo_api.tools.scaffold import ScaffoldRelease

router = domain_router("/v1/{organization}/tool", tags=["Tool"])
ToolId = Annotated[str, object_id_path("The ID of the tool.")]
Scaffold = Annotated[ScaffoldRelease, Depends(from_app_state("tool_scaffold", ScaffoldRelease))]
TOOL_404 = "The specified organization or tool does not exist."
SourceTypes = Annotated[list[Literal["regular-conversation", "simulation-conversation", "api-invocation"]], Query(
    description="Without it, the contract's two sources. `api-invocation` (our extension): direct calls of "
                "invoke-tool-version, returned only when named here.")]
SearchField = Literal["invocation_status.exception_message", "invocation_status.exception_type",
                      "invocation_status.exception_stack_trace", "invocation_status.output"]


@router.get("/amigo_tool_scaffold.tar.gz", operation_id="get-tool-scaffold-release",
            summary="Get the latest tool scaffold release", response_class=Response, dependencies=[rate_limit(50)],
            responses={200: {"description": "Succeeded.", "content": {"application/gzip": {}}},
                       **error_responses(r404="Specified organization is not found.")})
async def get_tool_scaffold_release(_: Member, scaffold: Scaffold) -> Response:
    """A ready-to-push tool project (docs/tools.md), the same bytes on every call. `X-Scaffold-Release` names
    the release; the project records it in `[tool.amigo]`."""
    return Response(scaffold.archive, media_type="application/gzip", headers={
        "Content-Disposition": 'attachment; filename="amigo_tool_scaffold.tar.gz"',
        "X-Scaffold-Release": scaffold.release_hash, "ETag": f'"{scaffold.release_hash}"'})


@router.post("/", operation_id="create-tool", summary="Create a new tool", status_code=status.HTTP_201_CREATED,
             response_model=s.CreateToolResponse, dependencies=[rate_limit(20)],
             responses=error_responses(r404="The specified organization does not exist.",
                                       r409="A tool with the same name already exists.",
                                       r400="The tool name is too long."))
async def create_tool(org: OrgDbDep, body: s.CreateToolRequest, principal: ToolCreator) -> s.CreateToolResponse:
    """Create a tool without versions: it is usable once a version is published."""
    return await service.create_tool(org, principal, body)


@router.get("/", operation_id="get-tools", summary="Get tools", response_model=s.GetToolsResponse,
            dependencies=[rate_limit(50)], responses=error_responses(r404="Specified organization is not found."))
async def get_tools(
    org: OrgDbDep, _: Member,
    id: IdFilter = [],  # noqa: A002,B006
    deprecated: bool | None = None,
    sort_by: SortBy = [],  # noqa: B006
    tag: Annotated[list[str], Query(description="`key:value`, `key:*` (any value) or `key:` (null value); all must "
                                                "match.")] = [],  # noqa: B006
    limit: Annotated[int, Query(gt=0, le=20)] = 10,
    continuation_token: ContinuationToken = 0,
) -> s.GetToolsResponse:
    """Every member of the organization may list its tools. Sort fields: `name`, `deprecated`. Environment
    variables appear by name only."""
    return await service.list_tools(org, ids=unique(id, "id"), deprecated=deprecated, tags=tag, sort_by=sort_by,
                                    limit=limit, continuation_token=continuation_token)


# Before the `/{tool_id}` routes: `test` and `invocation` are not tool ids.
@router.post("/test", operation_id="test-tool", summary="Test a tool", response_model=s.InvocationResultsResponse,
             dependencies=[rate_limit(1)], responses=error_responses(
                 r404="The specified organization or tool commit does not exist.",
                 r400="An environment variable is specified as both secret and non-secret, the tool commit failed "
                      "CI checks, required environment variables are not in the request, inputs do not conform "
                      "to the tool's input schema, or the build failed."))
async def test_tool(org: OrgDbDep, body: s.TestToolRequest, _: RepoWriter, temporal: TemporalClient,
                    settings: AppSettings, secrets: Secrets) -> s.InvocationResultsResponse:
    """Build the tip of `commit_branch` at `project_path`, run its tests, check the inputs against its input
    schema and run them in the sandbox, with the request's variables as the environment. Needs
    `Tool:AccessRepo` (whoever may push code may run it). Test runs are not recorded."""
    return await running.test_tool(org, temporal, settings, secrets, body)


@router.get("/invocation", operation_id="get-tool-invocations", summary="Get tool invocations",
            response_model=s.GetToolInvocationsResponse, dependencies=[rate_limit(50)],
            responses=error_responses(r404="Specified organization does not exist.",
                                      r400="The `tool_id` and `version` query parameters are not the same length."))
async def get_tool_invocations(
    org: OrgDbDep, principal: Member,
    tool_id: IdFilter = [],  # noqa: B006
    version: Annotated[list[str], Query(description=(
        "PEP 440 specifiers; `version[i]` applies to `tool_id[i]`."))] = [],  # noqa: B006
    invocation_source_type: SourceTypes = [],  # noqa: B006
    conversation_id: IdFilter = [],  # noqa: B006
    simulation_unit_test_set_run_id: IdFilter = [],  # noqa: B006
    succeeded: bool | None = None,
    limit: Annotated[int, Query(ge=0, le=100)] = 100,
    continuation_token: ContinuationToken = 0,
    sort_by: SortBy = [],  # noqa: B006
) -> s.GetToolInvocationsResponse:
    """Invocations the caller may see (others are left out): from conversations with
    `Conversation:GetInteractionInsights`, from simulations with `Simulation:GetSimulationUnitTestSetRun`,
    direct ones (`invocation_source.type` `api-invocation`, our extension, only when `invocation_source_type`
    names it) with `Tool:InvokeTool` on their tool. Newest first unless `sort_by` says otherwise."""
    return await invocations.list_invocations(
        org, principal, tool_ids=unique(tool_id, "tool_id"), specifiers=version,
        source_types=unique(invocation_source_type, "invocation_source_type"),
        conversation_ids=unique(conversation_id, "conversation_id"),
        run_ids=unique(simulation_unit_test_set_run_id, "simulation_unit_test_set_run_id"), succeeded=succeeded,
        sort_by=sort_by, limit=limit, continuation_token=continuation_token)


@router.get("/invocation/search", operation_id="search-tool-invocations", summary="Search tool invocations",
            response_model=s.SearchToolInvocationsResponse, dependencies=[rate_limit(50)],
            responses=error_responses(r404="The organization is not found."))
async def search_tool_invocations(
    org: OrgDbDep, principal: Member,
    query: Annotated[str, Query(min_length=1, max_length=1000, description="Matched as a case-insensitive "
                                                                            "substring, never as a pattern.")],
    query_against: Annotated[list[SearchField], Query(min_length=1)],
    tool_id: IdFilter = [],  # noqa: B006
    invocation_source_type: SourceTypes = [],  # noqa: B006
    conversation_id: IdFilter = [],  # noqa: B006
    simulation_unit_test_set_run_id: IdFilter = [],  # noqa: B006
    succeeded: bool | None = None,
) -> s.SearchToolInvocationsResponse:
    """The newest 100 matching invocations the caller may see (as get-tool-invocations), not paginated."""
    return await invocations.search_invocations(
        org, principal, query=query, fields=unique(query_against, "query_against"), tool_ids=unique(tool_id, "tool_id"),
        source_types=unique(invocation_source_type, "invocation_source_type"),
        conversation_ids=unique(conversation_id, "conversation_id"),
        run_ids=unique(simulation_unit_test_set_run_id, "simulation_unit_test_set_run_id"), succeeded=succeeded)


@router.delete("/{tool_id}", operation_id="deprecate-tool", summary="Deprecate a tool",
               status_code=status.HTTP_204_NO_CONTENT, response_class=Response, dependencies=[rate_limit(20)],
               responses=error_responses(r404=TOOL_404, r409="A related operation is in progress."))
async def deprecate_tool(org: OrgDbDep, tool_id: ToolId, principal: ToolDeleter) -> Response:
    """Deprecate the tool and all its versions; its name is free for a new tool."""
    await service.deprecate_tool(org, principal, tool_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{tool_id}", operation_id="modify-tool", summary="Modify a tool", status_code=status.HTTP_204_NO_CONTENT,
             response_class=Response, dependencies=[rate_limit(20)], responses=error_responses(r404=TOOL_404))
async def modify_tool(org: OrgDbDep, tool_id: ToolId, body: s.ModifyToolRequest, principal: ToolModifier) -> Response:
    """`description` and `tags` change only when given (not null)."""
    await service.modify_tool(org, principal, tool_id, body)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{tool_id}/envvar", operation_id="modify-tool-envvars",
             summary="Modify the environment variables of a tool", status_code=status.HTTP_204_NO_CONTENT,
             response_class=Response, dependencies=[rate_limit(20)],
             responses=error_responses(
                 r404=TOOL_404,
                 r409="An environment variable with the same name as the one to insert exists or has been recently "
                      "deleted.",
                 r400="The specified environment variables to update or delete do not exist, or the environment "
                      "variables to delete are used by non-deprecated tool versions."))
async def modify_tool_envvars(org: OrgDbDep, tool_id: ToolId, body: s.ModifyToolEnvvarsRequest,
                              principal: ToolModifier, settings: AppSettings, secrets: Secrets) -> Response:
    """Inserts, updates and deletes, applied as one change. Names match `^[A-Z_][A-Z0-9_]*$`; values are never
    shown (secret ones are encrypted at rest)."""
    grace = timedelta(seconds=settings.tool_envvar_delete_grace_seconds)
    await service.modify_envvars(org, principal, secrets, grace, tool_id, body)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# Versions (publishing creates them) -------------------------------------------------------------------

@router.post("/{tool_id}/version", operation_id="publish-tool-version", summary="Publish a new version of a tool",
             status_code=status.HTTP_201_CREATED, response_model=s.PublishToolVersionResponse,
             dependencies=[rate_limit(10)], responses=error_responses(
                 r404="The specified organization, tool, commit, or project directory does not exist.",
                 r400="Specified commit is older than the last valid commit, or the environment variables required "
                      "by the tool version do not exist on the tool, or more than 3 active versions of the tool "
                      "exist, or tool build has failed.",
                 r409="A related operation is in progress."))
async def publish_tool_version(org: OrgDbDep, tool_id: ToolId, body: s.PublishToolVersionRequest,
                               principal: ToolModifier, temporal: TemporalClient,
                               settings: AppSettings) -> s.PublishToolVersionResponse:
    """Build the project at `project_path` on the tip of `main` in the organization's tool repository, run its
    tests in the sandbox, read its input schema, and record the version (docs/tools.md). The call waits for
    the result: about a second for an unchanged project, longer when dependencies must be installed."""
    return await publishing.publish_version(org, principal, temporal, settings, tool_id, body)


VersionName = Annotated[str, Path(min_length=1, max_length=256, description=(
    "An exact version (`1.2.0`) or a PEP 440 specifier (`>=1,<2`): the highest non-deprecated match runs."))]
Specifier = Annotated[str, Path(min_length=1, max_length=256, description=(
    "A PEP 440 version specifier (`==1.2.0`, `>=1,<2`, `~=1.4`): every version of the tool it matches."))]


@router.get("/{tool_id}/version", operation_id="get-tool-versions", summary="Get tool versions",
            response_model=s.GetToolVersionsResponse, dependencies=[rate_limit(50)],
            responses=error_responses(r404="Specified organization or tool is not found."))
async def get_tool_versions(
    org: OrgDbDep, tool_id: ToolId, _: Member,
    deprecated: bool | None = None,
    versions: Annotated[str | None, Query(max_length=256, description="A PEP 440 version specifier.")] = None,
    sort_by: SortBy = [],  # noqa: B006
    creator: Annotated[list[str], Query(description="Creators as `org_id,user_id`.")] = [],  # noqa: B006
    limit: Annotated[int, Query(ge=0, le=50)] = 50,
    continuation_token: ContinuationToken = 0,
) -> s.GetToolVersionsResponse:
    """Every member of the organization may list a tool's versions. Sort fields: `created_at`,
    `version.major`, `version.minor`, `version.patch`, `deprecated`."""
    return await versions_service.list_versions(
        org, tool_id, deprecated=deprecated, versions=versions, creators=unique(creator, "creator"), sort_by=sort_by,
        limit=limit, continuation_token=continuation_token)


@router.delete("/{tool_id}/version/{versions}", operation_id="deprecate-tool-version",
               summary="Deprecate tool versions", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               dependencies=[rate_limit(20)], responses=error_responses(r404=TOOL_404))
async def deprecate_tool_version(org: OrgDbDep, tool_id: ToolId, versions: Specifier,
                                 principal: ToolModifier) -> Response:
    """Deprecate every version the specifier matches: deprecated versions never run and do not count toward
    the three a tool may have."""
    await versions_service.deprecate_versions(org, principal, tool_id, versions)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{tool_id}/version/{version}/invoke", operation_id="invoke-tool-version",
             summary="Invoke a tool version", response_model=s.InvocationResultsResponse,
             dependencies=[rate_limit(10)], responses=error_responses(
                 r404="The specified organization, tool, or tool version does not exist.",
                 r400="The input parameters do not conform to the tool's input schema."))
async def invoke_tool_version(org: OrgDbDep, tool_id: ToolId, version: VersionName, body: s.InvokeToolVersionRequest,
                              principal: ToolInvoker, temporal: TemporalClient, settings: AppSettings,
                              secrets: Secrets) -> s.InvocationResultsResponse:
    """Run each input on the version (an exact version, or the highest non-deprecated one a PEP 440 specifier
    matches) in the sandbox. User variables and the invocation mode reach the function through its context,
    never its environment; sensitive ones are never stored. Each run is recorded in the invocation history."""
    return await running.invoke_version(org, principal, temporal, settings, secrets, tool_id, version, body)
