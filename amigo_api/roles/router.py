"""HTTP endpoints of the Role tag: roles, assigning them, and temporary permission grants."""

from typing import Annotated

from fastapi import Query, status

from amigo_api.core.db import OrgDbDep
from amigo_api.core.openapi import error_responses
from amigo_api.core.pagination import ContinuationToken, IdFilter, SortBy, unique
from amigo_api.core.ratelimit import rate_limit
from amigo_api.core.routing import domain_router
from amigo_api.core.state import CachedPrincipals
from amigo_api.roles import schemas as s
from amigo_api.roles import service, temporary_grants
from amigo_api.roles.auth import GrantCreator, GrantLister, RoleAssigner, RoleCreator, RoleLister, RoleModifier
from amigo_api.users import service as users

router = domain_router("/v1/{organization}/role", tags=["Role"])


@router.post("/temporary_permission_grant/", operation_id="create-temporary-permission-grant",
             summary="Create a temporary permission grant", status_code=status.HTTP_201_CREATED,
             response_model=s.CreateTemporaryPermissionGrantResponse, dependencies=[rate_limit(100)],
             responses=error_responses(r404="Specified organization or user is not found."))
async def create_temporary_permission_grant(
    org: OrgDbDep, body: s.CreateTemporaryPermissionGrantRequest, principal: GrantCreator,
    principals: CachedPrincipals,
) -> s.CreateTemporaryPermissionGrantResponse:
    """Give a user one extra grant until the duration runs out. Role comparisons ignore such grants."""
    return await temporary_grants.create_temporary_grant(org, principal, body, principals.invalidate_org)


@router.get("/temporary_permission_grants/", operation_id="get-temporary-permission-grants",
            summary="Get temporary permission grants", response_model=s.GetTemporaryPermissionGrantsResponse,
            dependencies=[rate_limit(100)], responses=error_responses(r404="Specified organization is not found."))
async def get_temporary_permission_grants(
    org: OrgDbDep, principal: GrantLister,
    id: IdFilter = [],  # noqa: A002,B006
    user_id: Annotated[list[str], Query()] = [],  # noqa: B006
    permission_grant_name: str | None = None,
    is_expired: bool | None = None,
    limit: Annotated[int, Query(ge=0, le=10)] = 10,
    continuation_token: ContinuationToken = 0,
    creator: Annotated[list[str], Query(description="Creators as `org_id,user_id`.")] = [],  # noqa: B006
    tag: Annotated[list[str], Query(description="`key:value`, `key:*` or `key:`.")] = [],  # noqa: B006
    sort_by: SortBy = [],  # noqa: B006
) -> s.GetTemporaryPermissionGrantsResponse:
    """Sort fields: `user_id`, `expires_at`, `permission_grant.permission_name`."""
    return await temporary_grants.list_temporary_grants(
        org, principal, ids=unique(id, "id"), user_ids=unique(user_id, "user_id"),
        permission_name=permission_grant_name, is_expired=is_expired, creators=unique(creator, "creator"),
        tags=tag, limit=limit, continuation_token=continuation_token, sort_by=sort_by)


@router.post("/", operation_id="create-role", summary="Create a role", status_code=status.HTTP_201_CREATED,
             response_model=s.RoleIdResponse, dependencies=[rate_limit(20)],
             responses=error_responses(r404="Specified organization or inherited role is not found.",
                                       r409="Role with the same name already exists in this organization.",
                                       r400="A permission name is not known."))
async def create_role(org: OrgDbDep, body: s.CreateRoleRequest, principal: RoleCreator) -> s.RoleIdResponse:
    return await service.create_role(org, principal, body)


@router.get("/", operation_id="get_roles_v1__organization__role__get", summary="Get roles",
            response_model=s.GetRolesResponse, dependencies=[rate_limit(20)],
            responses=error_responses(r404="Specified organization is not found."))
async def get_roles(
    org: OrgDbDep, principal: RoleLister,
    return_permission_grants: bool = False,
    id: IdFilter = [],  # noqa: A002,B006
    name: Annotated[list[str], Query()] = [],  # noqa: B006
) -> s.GetRolesResponse:
    """The roles the caller holds `Role:GetRole` for."""
    return await service.list_roles(org, principal, ids=unique(id, "id"), names=unique(name, "name"),
                                    return_permission_grants=return_permission_grants)


@router.post("/{role_name}", operation_id="modify-role", summary="Modify a role", response_model=s.RoleIdResponse,
             dependencies=[rate_limit(10)],
             responses=error_responses(r404="Specified organization, role, or inherited role is not found.",
                                       r400="Base roles cannot inherit from other roles."))
async def modify_role(org: OrgDbDep, role_name: str, body: s.ModifyRoleRequest, principal: RoleModifier,
                      principals: CachedPrincipals) -> s.RoleIdResponse:
    """`description` changes in place. A change of `permission_grants` or `frontend_view` creates a new role
    document with the same name; users and API keys move to it and the old one expires after a day."""
    return await service.modify_role(org, principal, role_name, body, principals.invalidate_org)


@router.post("/{role_name}/assign", operation_id="assign-role", summary="Assign a role to user",
             response_model=s.RoleIdResponse, dependencies=[rate_limit(1000)],
             responses=error_responses(r404="Specified organization, role, or user is not found."))
async def assign_role(org: OrgDbDep, role_name: str, body: s.AssignRoleRequest, principal: RoleAssigner,
                      principals: CachedPrincipals) -> s.RoleIdResponse:
    """The caller needs greater privileges than the role assigned (and than the user's current role)."""
    role_id = await users.assign_role(org, principal, role_name, body.user_id, principals.invalidate_org)
    return s.RoleIdResponse(role_id=role_id)
