"""HTTP endpoints of the Organization tag: get and create an organization."""

from typing import Annotated

from fastapi import Header, status

from amigo_api.core.db import ClustersDep, NewOrgId, OrgDbDep
from amigo_api.core.openapi import error_responses
from amigo_api.core.ratelimit import rate_limit
from amigo_api.core.routing import domain_router
from amigo_api.organizations import provisioning, service
from amigo_api.organizations import schemas as s
from amigo_api.organizations.auth import OptionalViewer, OrganizationCreator

router = domain_router("/v1/{organization}", tags=["Organization"])
ORG_404 = "The specified organization does not exist."


@router.get("/organization/", operation_id="get-organization", summary="Get an organization",
            response_model=s.GetOrganizationResponse, responses=error_responses(r404=ORG_404),
            openapi_extra={"security": []})
async def get_organization(org: OrgDbDep, principal: OptionalViewer) -> s.GetOrganizationResponse:
    """Get the details of an organization. `default_user_preferences` and `tenant_id` are filled only for
    a signed-in caller holding `Organization:GetOrganizationDetails`."""
    return await service.get_organization(org, principal)


@router.put("/organization/", operation_id="create-organization", summary="Create an organization",
            status_code=status.HTTP_201_CREATED, response_model=s.CreateOrganizationResponse,
            dependencies=[rate_limit(5)],
            responses=error_responses(
                r400="The specified organization ID is reserved.",
                r409="Conflicts with existing organization with the same `org_id`, or a related operation is "
                     "in progress."))
async def create_organization(
    organization: NewOrgId, body: s.CreateOrganizationRequest, caller: OrganizationCreator, clusters: ClustersDep,
    x_mongo_cluster_name: Annotated[str, Header(description="The Mongo cluster name to perform this request in.")],
) -> s.CreateOrganizationResponse:
    """Set up a new organization: its four default roles and the super user `admin@amigo.ai`."""
    return await provisioning.create_organization(clusters, caller, organization, x_mongo_cluster_name, body)
