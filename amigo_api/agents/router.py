"""HTTP endpoints for agents and service hierarchical state machines (tag Organization)."""

from typing import Annotated, Any

from fastapi import Query, status

from amigo_api.agents import schemas as s
from amigo_api.agents import service
from amigo_api.agents.auth import (
    AgentCreator,
    AgentDeleter,
    AgentVersionCreator,
    DefinitionReader,
    MachineCreator,
    MachineDeleter,
    MachineVersionCreator,
)
from amigo_api.agents.service import AGENT, STATE_MACHINE
from amigo_api.core.db import OrgDbDep
from amigo_api.core.ids import object_id_path
from amigo_api.core.openapi import error_responses
from amigo_api.core.pagination import ContinuationToken, IdFilter, SortBy, unique
from amigo_api.core.ratelimit import rate_limit
from amigo_api.core.routing import domain_router
from amigo_api.core.schemas import MAX_COUNT

router = domain_router("/v1/{organization}/organization", tags=["Organization"])

ExpectedVersion = Annotated[int | None, Query(gt=0, le=MAX_COUNT,
                                               description="Refuse (409) unless this is the next version.")]
VersionSelector = Annotated[str | None, Query(
    description="An exact version number, `latest`, or an inclusive range such as `2-5`.")]
AgentId = Annotated[str, object_id_path("The ID of the agent.")]
MachineId = Annotated[str, object_id_path("The ID of the state machine.")]
ORG_404 = "The specified organization does not exist."


# Agents ---------------------------------------------------------------------------------------------

@router.post("/agent", operation_id="create-agent", summary="Create an agent", status_code=status.HTTP_201_CREATED,
             response_model=s.IdResponse, dependencies=[rate_limit(10)],
             responses=error_responses(r404=ORG_404,
                                       r409="An `Agent` with the same name already exists."))
async def create_agent(org: OrgDbDep, body: s.CreateAgentRequest, principal: AgentCreator) -> s.IdResponse:
    """Create an agent without versions; create a version before a service can use it."""
    return await service.create_definition(org, principal, AGENT, body.agent_name)


@router.get("/agent", operation_id="get-agents", summary="Get agents for an organization",
            response_model=s.GetAgentsResponse, dependencies=[rate_limit(20)],
            responses=error_responses(r404=ORG_404))
async def get_agents(
    org: OrgDbDep, principal: DefinitionReader, deprecated: bool | None = None, id: IdFilter = [],  # noqa: A002,B006
    limit: Annotated[int, Query(gt=0, le=20)] = 10, continuation_token: ContinuationToken = 0,
) -> s.GetAgentsResponse:
    """The agents the caller holds `Organization:GetAgent` for."""
    agents, has_more, token = await service.list_definitions(
        org, principal, AGENT, ids=unique(id, "id"), deprecated=deprecated, limit=limit,
        continuation_token=continuation_token)
    return s.GetAgentsResponse(agents=agents, has_more=has_more, continuation_token=token)


@router.post("/agent/{agent_id}/", operation_id="create-agent-version", summary="Create an agent version",
             status_code=status.HTTP_201_CREATED, response_model=s.VersionCreatedResponse,
             dependencies=[rate_limit(10)],
             responses=error_responses(r404="The specified organization or agent does not exist.",
                 r409="The specified version is not the expected next version for the agent.",
                 r400="Attempt to create the initial version for an agent, but not all fields in the request "
                      "object are defined."))
async def create_agent_version(org: OrgDbDep, agent_id: AgentId, body: s.CreateAgentVersionRequest,
                               principal: AgentVersionCreator, version: ExpectedVersion = None
                               ) -> s.VersionCreatedResponse:
    """The first version needs every field but `voice_config`; later ones inherit what they leave out."""
    return await service.create_agent_version(org, principal, agent_id, body, version)


@router.delete("/agent/{agent_id}/", operation_id="delete-agent", summary="Delete an agent",
               response_model=dict[str, Any], dependencies=[rate_limit(10)],
               responses=error_responses(r404="The specified organization or agent does not exist.",
                                         r400="An active service exists that utilizes this agent.",
                                         r409="The specified agent is already deleted"))
async def delete_agent(org: OrgDbDep, agent_id: AgentId, principal: AgentDeleter) -> dict[str, Any]:
    """Mark the agent deprecated; its versions stay readable."""
    await service.delete_definition(org, principal, AGENT, agent_id)
    return {}


@router.get("/agent/{agent_id}/version", operation_id="get-agent-versions", summary="Get agent versions",
            response_model=s.GetAgentVersionsResponse, dependencies=[rate_limit(20)],
            responses=error_responses(r404="Specified organization or agent is not found."))
async def get_agent_versions(
    org: OrgDbDep, agent_id: AgentId, principal: DefinitionReader, version: VersionSelector = None,
    limit: Annotated[int, Query(gt=0, le=10)] = 10, continuation_token: ContinuationToken = 0,
    sort_by: SortBy = [],  # noqa: B006
) -> s.GetAgentVersionsResponse:
    """Newest first unless `sort_by` (field `version`) says otherwise."""
    docs, has_more, token = await service.list_versions(
        org, principal, AGENT, agent_id, version=version, limit=limit, continuation_token=continuation_token,
        sort_by=sort_by)
    return s.GetAgentVersionsResponse(agent_versions=[s.AgentVersionInstance.model_validate(d) for d in docs],
                                      has_more=has_more, continuation_token=token)


# State machines -------------------------------------------------------------------------------------

@router.post("/service_hierarchical_state_machine", operation_id="create-service-hierarchical-state-machine",
             summary="Create a service hierarchical state machine", status_code=status.HTTP_201_CREATED,
             response_model=s.IdResponse, dependencies=[rate_limit(10)],
             responses=error_responses(r404=ORG_404,
                                       r409="A state machine with the same name already exists."))
async def create_state_machine(org: OrgDbDep, body: s.CreateStateMachineRequest, principal: MachineCreator
                               ) -> s.IdResponse:
    return await service.create_definition(org, principal, STATE_MACHINE, body.state_machine_name)


@router.get("/service_hierarchical_state_machine", operation_id="get-service-hierarchical-state-machines",
            summary="Get service hierarchical state machines for an organization",
            response_model=s.GetStateMachinesResponse, dependencies=[rate_limit(20)],
            responses=error_responses(r404=ORG_404))
async def get_state_machines(
    org: OrgDbDep, principal: DefinitionReader, deprecated: bool | None = None, id: IdFilter = [],  # noqa: A002,B006
    limit: Annotated[int, Query(ge=0, le=50)] = 50, continuation_token: ContinuationToken = 0,
) -> s.GetStateMachinesResponse:
    """The state machines the caller holds `Organization:GetServiceHierarchicalStateMachine` for."""
    machines, has_more, token = await service.list_definitions(
        org, principal, STATE_MACHINE, ids=unique(id, "id"), deprecated=deprecated, limit=limit,
        continuation_token=continuation_token)
    return s.GetStateMachinesResponse(service_hierarchical_state_machines=machines, has_more=has_more,
                                      continuation_token=token)


@router.post("/service_hierarchical_state_machine/{service_hierarchical_state_machine_id}/",
             operation_id="create-service-hierarchical-state-machine-version",
             summary="Create a service hierarchical state machine version", status_code=status.HTTP_201_CREATED,
             response_model=s.VersionCreatedResponse | None, dependencies=[rate_limit(10)],
             responses=error_responses(r404="The specified organization, state machine, or tool does not exist.",
                 r400="The state machine version is invalid, or depends on another state machine that either "
                      "doesn't exist or is deprecated.",
                 r409="The specified version number is not the expected next version for the state machine."))
async def create_state_machine_version(
    org: OrgDbDep, service_hierarchical_state_machine_id: MachineId, body: s.StateMachineBody,
    principal: MachineVersionCreator, version: ExpectedVersion = None, dry_run: bool = False,
) -> s.VersionCreatedResponse | None:
    """Checks the graph: entry and terminal states are action states, every transition and reference names an
    existing state, tool version constraints are PEP 440. With `dry_run` nothing is written (empty 201)."""
    return await service.create_state_machine_version(org, principal, service_hierarchical_state_machine_id, body,
                                                      version, dry_run)


@router.delete("/service_hierarchical_state_machine/{state_machine_id}/",
               operation_id="delete-service-hierarchical-state-machine",
               summary="Delete a service hierarchical state machine", response_model=dict[str, Any],
               dependencies=[rate_limit(10)],
               responses=error_responses(r404="The specified organization or state machine does not exist.",
                                         r400="An active service exists that utilizes this state machine.",
                                         r409="The specified state machine is already deleted"))
async def delete_state_machine(org: OrgDbDep, state_machine_id: MachineId, principal: MachineDeleter
                               ) -> dict[str, Any]:
    await service.delete_definition(org, principal, STATE_MACHINE, state_machine_id)
    return {}


@router.get("/service_hierarchical_state_machine/{service_hierarchical_state_machine_id}/version",
            operation_id="get-service-hierarchical-state-machine-versions",
            summary="Get service hierarchical state machine versions",
            response_model=s.GetStateMachineVersionsResponse, dependencies=[rate_limit(20)],
            responses=error_responses(
                r404="Specified organization or service hierarchical state machine is not found."))
async def get_state_machine_versions(
    org: OrgDbDep, service_hierarchical_state_machine_id: MachineId, principal: DefinitionReader,
    version: VersionSelector = None, limit: Annotated[int, Query(gt=0, le=10)] = 10,
    continuation_token: ContinuationToken = 0, sort_by: SortBy = [],  # noqa: B006
) -> s.GetStateMachineVersionsResponse:
    """Newest first unless `sort_by` (field `version`) says otherwise."""
    docs, has_more, token = await service.list_versions(
        org, principal, STATE_MACHINE, service_hierarchical_state_machine_id, version=version, limit=limit,
        continuation_token=continuation_token, sort_by=sort_by)
    return s.GetStateMachineVersionsResponse(
        state_machine_versions=[s.StateMachineVersionInstance.model_validate(d) for d in docs],
        has_more=has_more, continuation_token=token)
