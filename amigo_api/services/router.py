"""HTTP endpoints of the Service tag."""

from typing import Annotated, Any

from fastapi import Path, Query, Response, status

from amigo_api.core.db import OrgDbDep
from amigo_api.core.ids import object_id_path
from amigo_api.core.openapi import error_responses
from amigo_api.core.pagination import ContinuationToken, IdFilter, SortBy, unique
from amigo_api.core.ratelimit import rate_limit
from amigo_api.core.routing import domain_router
from amigo_api.models.dependencies import Registry
from amigo_api.services import schemas as s
from amigo_api.services import service
from amigo_api.services.auth import (
    ServiceCreator,
    ServiceLister,
    ServiceUpdater,
    VersionSetDeleter,
    VersionSetWriter,
)

router = domain_router("/v1/{organization}/service", tags=["Service"])

ServiceId = Annotated[str, object_id_path("Identifier of the service.")]


@router.get("/", operation_id="get-services", summary="Get services", response_model=s.GetServicesResponse,
            dependencies=[rate_limit(50)],
            responses=error_responses(r404="The specified organization does not exist."))
async def get_services(
    org: OrgDbDep, principal: ServiceLister,
    id: IdFilter = [],  # noqa: A002,B006
    is_active: bool | None = None, sort_by: SortBy = [],  # noqa: B006
    tags: Annotated[list[str], Query(description="`key:value`, `key:*` (any value) or `key:` (null value); "
                                                 "all must match.")] = [],  # noqa: B006
    limit: Annotated[int, Query(gt=0, le=20)] = 10, continuation_token: ContinuationToken = 0,
) -> s.GetServicesResponse:
    """Services the caller holds `Service:GetService` for. Sort fields: `name`, `is_active`."""
    return await service.list_services(org, principal, ids=unique(id, "id"), is_active=is_active, tags=tags,
                                       sort_by=sort_by, limit=limit, continuation_token=continuation_token)


@router.post("/", operation_id="create-service", summary="Create a service", status_code=status.HTTP_201_CREATED,
             response_model=s.CreateServiceResponse, dependencies=[rate_limit(20)],
             responses=error_responses(
                 r404="The specified organization, agent, or service hierarchical state machine do not exist.",
                 r400="A `release` version does not belong to the service's agent or state machine, the agent or "
                      "state machine has no versions or is deleted, or the LLM config is invalid.",
                 r409="An active service with the given name already exists."))
async def create_service(org: OrgDbDep, body: s.CreateServiceRequest, principal: ServiceCreator,
                         registry: Registry) -> s.CreateServiceResponse:
    """Create a service with an `edge` version set (latest versions, no model preference) and a `release`
    one (the given `release_version_set`, or the same as `edge`)."""
    return await service.create_service(org, principal, registry, body)


@router.put("/{service_id}/version_sets/{version_set_name}/", operation_id="upsert-service-version-set",
            summary="Upsert a service version set", status_code=status.HTTP_204_NO_CONTENT,
            response_class=Response, dependencies=[rate_limit(30)],
            responses=error_responses(r404="The specified organization or service do not exist.",
                r400="The agent or service hierarchical state machine version in the request do not belong to the "
                     "agent or state machine of the service, or attempted to update the `edge` version set, or the "
                     "supplied LLM config is invalid."))
async def upsert_service_version_set(
    org: OrgDbDep, service_id: ServiceId,
    version_set_name: Annotated[str, Path(min_length=1, max_length=40, pattern=s.VERSION_SET_NAME_PATTERN)],
    body: s.UpsertVersionSetRequest, principal: VersionSetWriter, registry: Registry,
) -> Response:
    """Needs `Service:CreateVersionSet` for a new version set, `Service:UpdateVersionSet` to replace one."""
    await service.upsert_version_set(org, principal, registry, service_id, version_set_name, body.version_set)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/{service_id}/version_sets/{version_set_name}/", operation_id="delete-service-version-set",
               summary="Delete a service version set", status_code=status.HTTP_204_NO_CONTENT,
               response_class=Response, dependencies=[rate_limit(30)],
               responses=error_responses(
                   r400="The specified version set is used in a simulation unit test, or is the `edge` or `release` "
                        "version set.",
                   r404="The specified organization, service, or version set do not exist."))
async def delete_service_version_set(org: OrgDbDep, service_id: ServiceId, version_set_name: str,
                                     principal: VersionSetDeleter) -> Response:
    await service.delete_version_set(org, principal, service_id, version_set_name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{service_id}/", operation_id="update-service", summary="Update a service",
             response_model=dict[str, Any], dependencies=[rate_limit(20)],
             responses=error_responses(r404="The specified organization or service do not exist.",
                 r400="Activating a service that uses a deleted agent, state machine or LLM, or an invalid agent or "
                      "state machine; or deactivating a service used in a simulation unit test.",
                 r409="The request intends to activate a service that has an active service with the same name."))
async def update_service(org: OrgDbDep, service_id: ServiceId, body: s.UpdateServiceRequest,
                         principal: ServiceUpdater, registry: Registry) -> dict[str, Any]:
    """Only the fields given (not null) change."""
    await service.update_service(org, principal, registry, service_id, body)
    return {}
