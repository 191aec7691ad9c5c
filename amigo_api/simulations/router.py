"""HTTP endpoints for simulation unit tests (tag Simulation)."""

from typing import Annotated

from fastapi import Query, Response, status

from amigo_api.core.db import OrgDbDep
from amigo_api.core.ids import object_id_path
from amigo_api.core.openapi import error_responses
from amigo_api.core.pagination import ContinuationToken, IdFilter, SortBy, unique
from amigo_api.core.ratelimit import rate_limit
from amigo_api.core.routing import domain_router
from amigo_api.simulations import schemas as s
from amigo_api.simulations import service
from amigo_api.simulations.auth import UnitTestCreator, UnitTestDeleter, UnitTestLister

router = domain_router("/v1/{organization}/simulation/unit_test", tags=["Simulation"])


@router.post("/", operation_id="create-simulation-unit-test", summary="Create a simulation unit test",
             status_code=status.HTTP_201_CREATED, response_model=s.CreateSimulationUnitTestResponse,
             dependencies=[rate_limit(500)],
             responses=error_responses(r409="A unit test with this name already exists.",
                 r404="The specified organization, service, persona, scenario, metric, or service version set was "
                      "not found.",
                 r400="The metric type of the success criterion does not match the metric type of the metric."))
async def create_simulation_unit_test(org: OrgDbDep, body: s.CreateSimulationUnitTestRequest,
                                      principal: UnitTestCreator) -> s.CreateSimulationUnitTestResponse:
    """While the unit test exists, its version set cannot be deleted nor its service deactivated."""
    return await service.create_unit_test(org, principal, body)


@router.get("/", operation_id="get-simulation-unit-tests", summary="Get simulation unit tests",
            response_model=s.GetSimulationUnitTestsResponse, dependencies=[rate_limit(200)],
            responses=error_responses(r404="Specified organization is not found."))
async def get_simulation_unit_tests(
    org: OrgDbDep, principal: UnitTestLister,
    id: IdFilter = [], limit: Annotated[int, Query(ge=0, le=500)] = 50,  # noqa: A002,B006
    continuation_token: ContinuationToken = 0, is_deleted: bool | None = None,
    service_id: IdFilter = [], persona_id: IdFilter = [], scenario_id: IdFilter = [], metric_id: IdFilter = [],  # noqa: B006
    creator: Annotated[list[str], Query(description="Creators as `org_id,user_id`.")] = [],  # noqa: B006
    tag: Annotated[list[str], Query(description="`key:value`, `key:*` or `key:`.")] = [],  # noqa: B006
    sort_by: SortBy = [],  # noqa: B006
) -> s.GetSimulationUnitTestsResponse:
    """Unit tests the caller holds `Simulation:GetSimulationUnitTest` for. Sort field: `updated_at`."""
    return await service.list_unit_tests(
        org, principal, ids=unique(id, "id"), is_deleted=is_deleted, service_ids=unique(service_id, "service_id"),
        persona_ids=unique(persona_id, "persona_id"), scenario_ids=unique(scenario_id, "scenario_id"),
        metric_ids=unique(metric_id, "metric_id"), creators=unique(creator, "creator"), tags=tag, sort_by=sort_by,
        limit=limit, continuation_token=continuation_token)


@router.delete("/{simulation_unit_test_id}/", operation_id="delete-simulation-unit-test",
               summary="Delete a simulation unit test", status_code=status.HTTP_204_NO_CONTENT,
               response_class=Response, dependencies=[rate_limit(500)],
               responses=error_responses(
                   r404="The specified organization or simulation unit test was not found or is inactive.",
                   r400="The specified simulation unit test is used in a simulation unit test set."))
async def delete_simulation_unit_test(
    org: OrgDbDep, simulation_unit_test_id: Annotated[str, object_id_path()],
    principal: UnitTestDeleter,
) -> Response:
    """Soft delete: existing references stay valid."""
    await service.delete_unit_test(org, principal, simulation_unit_test_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
