"""HTTP endpoints of the Organization, User and Role tags: parse, call the service, shape the response."""

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status
from pydantic import EmailStr

from amigo_api.core.auth import Principal, authenticate_optional
from amigo_api.core.db import OrgDbDep, OrgId, get_clusters
from amigo_api.core.ids import OBJECT_ID_PATTERN
from amigo_api.core.openapi import error_responses
from amigo_api.core.pagination import ContinuationToken, IdFilter, SortBy, unique
from amigo_api.core.ratelimit import anonymous_rate_limit, rate_limit
from amigo_api.organizations import schemas as s
from amigo_api.organizations import service
from amigo_api.organizations.auth import (
    APIKeyCreator,
    APIKeyDeleter,
    GrantCreator,
    OrganizationCreator,
    RoleCreator,
    RoleModifier,
    UserDeleter,
    UserInviter,
    UserModelReader,
    UserUpdater,
    Viewer,
    authenticate_in_issuer_org,
)

router = APIRouter(prefix="/v1/{organization}")
ORG_404 = "The specified organization does not exist."


def _invalidate_principals(request: Request) -> Callable[[str], None]:
    return request.app.state.principal_cache.invalidate_org


# Organization ---------------------------------------------------------------------------------------

@router.get("/organization/", operation_id="get-organization", tags=["Organization"],
            summary="Get an organization", response_model=s.GetOrganizationResponse,
            responses=error_responses(r404=ORG_404), openapi_extra={"security": []})
async def get_organization(request: Request, org: OrgDbDep) -> s.GetOrganizationResponse:
    """Get the details of an organization. `default_user_preferences` and `tenant_id` are filled only for
    a signed-in caller holding `Organization:GetOrganizationDetails`."""
    principal: Principal | None = await authenticate_optional(request, org)
    return await service.get_organization(org, principal)


@router.put("/organization/", operation_id="create-organization", tags=["Organization"],
            summary="Create an organization", status_code=status.HTTP_201_CREATED,
            response_model=s.CreateOrganizationResponse,
            dependencies=[rate_limit(5, authenticate_in_issuer_org)],
            responses=error_responses(
                401, 403, rate_limit=5, r400="The specified organization ID is reserved.",
                r409="Conflicts with existing organization with the same `org_id`, or a related operation is "
                     "in progress."))
async def create_organization(
    request: Request, organization: OrgId, body: s.CreateOrganizationRequest, caller: OrganizationCreator,
    x_mongo_cluster_name: Annotated[str, Header(description="The Mongo cluster name to perform this request in.")],
) -> s.CreateOrganizationResponse:
    """Set up a new organization: its four default roles and the super user `admin@amigo.ai`."""
    return await service.create_organization(get_clusters(request), caller, organization, x_mongo_cluster_name,
                                             body)


# API keys -------------------------------------------------------------------------------------------

@router.post("/organization/api_key/", operation_id="create-api-key", tags=["Organization"],
             summary="Create an API key", status_code=status.HTTP_201_CREATED,
             response_model=s.CreateAPIKeyResponse, dependencies=[rate_limit(5)],
             responses=error_responses(401, 403, rate_limit=5, r404="The specified organization or role does not "
                                       "exist.", r400="The organization has reached the maximum API key limit.",
                                       r409="A related operation is in progress."))
async def create_api_key(org: OrgDbDep, body: s.CreateAPIKeyRequest, principal: APIKeyCreator
                         ) -> s.CreateAPIKeyResponse:
    """Create an API key valid for 1 to 90 days. The key is shown once and stored only as a hash."""
    return await service.create_api_key(org, principal, body)


@router.get("/organization/api_key/", operation_id="get-api-keys", tags=["Organization"],
            summary="Get API keys for the organization", response_model=s.GetAPIKeysResponse,
            dependencies=[rate_limit(10)],
            responses=error_responses(401, 403, rate_limit=10, r404="The organization does not exist."))
async def get_api_keys(org: OrgDbDep, principal: Viewer) -> s.GetAPIKeysResponse:
    """The API keys the caller holds `Organization:GetAPIKey` for."""
    return await service.list_api_keys(org, principal)


@router.delete("/organization/api_key/{api_key_id}/", operation_id="delete-api-key", tags=["Organization"],
               summary="Delete an API key", response_model=s.DeleteAPIKeyResponse, dependencies=[rate_limit(10)],
               responses=error_responses(401, 403, rate_limit=10,
                                         r404="The specified organization or the API key does not exist."))
async def delete_api_key(request: Request, org: OrgDbDep, api_key_id: str, principal: APIKeyDeleter
                         ) -> s.DeleteAPIKeyResponse:
    return await service.delete_api_key(org, principal, api_key_id, _invalidate_principals(request))


# Users ----------------------------------------------------------------------------------------------

@router.post("/user/", operation_id="create-invited-user", tags=["User"], summary="Create a new user",
             status_code=status.HTTP_201_CREATED, response_model=s.CreateInvitedUserResponse,
             dependencies=[rate_limit(50)],
             responses=error_responses(401, 403, rate_limit=50, r404="Specified organization or role is not found.",
                                       r409="User with the same email already exists in this organization, or a "
                                            "related operation is in progress."))
async def create_invited_user(request: Request, org: OrgDbDep, body: s.CreateInvitedUserRequest,
                              principal: UserInviter) -> s.CreateInvitedUserResponse:
    """Invite a user; with `login_link` an invitation email carrying it is sent."""
    return await service.invite_user(org, principal, body, request.app.state.settings, request.app.state.secret_box)


@router.get("/user/", operation_id="get-users", tags=["User"], summary="Get users",
            response_model=s.GetUsersResponse, dependencies=[rate_limit(60)],
            responses=error_responses(401, 403, rate_limit=60, r404="Specified organization is not found."))
async def get_users(
    org: OrgDbDep, principal: Viewer,
    user_id: Annotated[list[str], Query(description="The ID of the user.")] = [],  # noqa: B006
    email: Annotated[list[EmailStr], Query(description="The email of the user.")] = [],  # noqa: B006
    limit: Annotated[int, Query(ge=0, le=100)] = 100,
    continuation_token: ContinuationToken = 0,
    sort_by: SortBy = [],  # noqa: B006
) -> s.GetUsersResponse:
    """Users the caller holds `User:GetUserInfo` for. Sort fields: `first_name`, `last_name`, `email`,
    `user_stats.num_conversations`, `user_stats.num_messages`, `user_stats.last_message_time`."""
    return await service.list_users(org, principal, user_ids=unique(user_id, "user_id"),
                                     emails=unique([str(e) for e in email], "email"), limit=limit,
                                     continuation_token=continuation_token, sort_by=sort_by)


def _signin_identity(request: Request) -> str:
    org_id = request.path_params.get("organization", "")
    return f"signin/{org_id}/{request.headers.get('x-user-id', '')}"


@router.post("/user/signin_with_api_key", operation_id="sign-in-with-api-key", tags=["User"],
             summary="Sign in with API key", response_model=s.SigninWithAPIKeyResponse,
             dependencies=[Depends(anonymous_rate_limit(5, _signin_identity))],
             responses=error_responses(rate_limit=5, r404="Specified organization is not found.",
                                       r401="API key not found, is incorrect, or the requested user is not found."),
             openapi_extra={"security": [{"API-Key-Authorization-Key": [], "API-Key-Authorization-ID": [],
                                          "API-Key-Authorization-UserID": []}]})
async def sign_in_with_api_key(
    request: Request, org: OrgDbDep,
    x_api_key: Annotated[str, Header(description="The value of the API key.")],
    x_api_key_id: Annotated[str, Header(description="The ID of the API key.")],
    x_user_id: Annotated[str, Header(description="The ID of the user to sign in as.")],
) -> s.SigninWithAPIKeyResponse:
    """Issue a token for the user, to send as `Authorization: Bearer <id_token>`."""
    return await service.sign_in_with_api_key(org, request.app.state.tokens, x_api_key_id, x_api_key, x_user_id)


UserId = Annotated[str, Path(pattern=OBJECT_ID_PATTERN, description="The ID of the user.")]
USER_404 = "Specified organization or user is not found."


@router.post("/user/{user_id}", operation_id="update-user-info", tags=["User"], summary="Update user information",
             status_code=status.HTTP_204_NO_CONTENT, response_class=Response, dependencies=[rate_limit(20)],
             responses=error_responses(401, 403, rate_limit=20, r404=USER_404))
async def update_user_info(org: OrgDbDep, user_id: UserId, body: s.UpdateUserInfoRequest,
                           principal: UserUpdater) -> Response:
    """Change a user's names, preferences or additional context; fields left out (or `null`) stay as they are."""
    await service.update_user(org, principal, user_id, body)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/user/{user_id}", operation_id="delete-user", tags=["User"], summary="Delete a user",
               status_code=status.HTTP_204_NO_CONTENT, response_class=Response, dependencies=[rate_limit(20)],
               responses=error_responses(401, 403, rate_limit=20, r404=USER_404,
                                         r409="The user is the last holder of the organization's top role."))
async def delete_user(request: Request, org: OrgDbDep, user_id: UserId, principal: UserDeleter) -> Response:
    """Delete a user whose role the caller outranks, with the user's temporary permission grants."""
    await service.delete_user(org, principal, user_id, _invalidate_principals(request))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/user/{user_id}/user_model", operation_id="get-user-model", tags=["User"], summary="Get user model",
            response_model=s.GetUserModelResponse, dependencies=[rate_limit(60)],
            responses=error_responses(401, 403, rate_limit=60, r404=USER_404))
async def get_user_model(org: OrgDbDep, user_id: UserId, principal: UserModelReader) -> s.GetUserModelResponse:
    """The latest user models (built from conversations; empty until there are some) and additional context."""
    return await service.get_user_model(org, principal, user_id)


# Roles ----------------------------------------------------------------------------------------------

@router.post("/role/temporary_permission_grant/", operation_id="create-temporary-permission-grant", tags=["Role"],
             summary="Create a temporary permission grant", status_code=status.HTTP_201_CREATED,
             response_model=s.CreateTemporaryPermissionGrantResponse, dependencies=[rate_limit(100)],
             responses=error_responses(401, 403, rate_limit=100, r404="Specified organization or user is not found."))
async def create_temporary_permission_grant(
    request: Request, org: OrgDbDep, body: s.CreateTemporaryPermissionGrantRequest, principal: GrantCreator,
) -> s.CreateTemporaryPermissionGrantResponse:
    """Give a user one extra grant until the duration runs out. Role comparisons ignore such grants."""
    return await service.create_temporary_grant(org, principal, body, _invalidate_principals(request))


@router.get("/role/temporary_permission_grants/", operation_id="get-temporary-permission-grants", tags=["Role"],
            summary="Get temporary permission grants", response_model=s.GetTemporaryPermissionGrantsResponse,
            dependencies=[rate_limit(100)],
            responses=error_responses(401, 403, rate_limit=100, r404="Specified organization is not found."))
async def get_temporary_permission_grants(
    org: OrgDbDep, principal: Viewer,
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
    return await service.list_temporary_grants(
        org, principal, ids=unique(id, "id"), user_ids=unique(user_id, "user_id"),
        permission_name=permission_grant_name, is_expired=is_expired, creators=unique(creator, "creator"),
        tags=tag, limit=limit, continuation_token=continuation_token, sort_by=sort_by)


@router.post("/role/", operation_id="create-role", tags=["Role"], summary="Create a role",
             status_code=status.HTTP_201_CREATED, response_model=s.RoleIdResponse, dependencies=[rate_limit(20)],
             responses=error_responses(401, 403, rate_limit=20,
                                       r404="Specified organization or inherited role is not found.",
                                       r409="Role with the same name already exists in this organization.",
                                       r400="A permission name is not known."))
async def create_role(org: OrgDbDep, body: s.CreateRoleRequest, principal: RoleCreator) -> s.RoleIdResponse:
    return await service.create_role(org, principal, body)


@router.get("/role/", operation_id="get_roles_v1__organization__role__get", tags=["Role"], summary="Get roles",
            response_model=s.GetRolesResponse, dependencies=[rate_limit(20)],
            responses=error_responses(401, 403, rate_limit=20, r404="Specified organization is not found."))
async def get_roles(
    org: OrgDbDep, principal: Viewer,
    return_permission_grants: bool = False,
    id: IdFilter = [],  # noqa: A002,B006
    name: Annotated[list[str], Query()] = [],  # noqa: B006
) -> s.GetRolesResponse:
    """The roles the caller holds `Role:GetRole` for."""
    return await service.list_roles(org, principal, ids=unique(id, "id"), names=unique(name, "name"),
                                    return_permission_grants=return_permission_grants)


@router.post("/role/{role_name}", operation_id="modify-role", tags=["Role"], summary="Modify a role",
             response_model=s.RoleIdResponse, dependencies=[rate_limit(10)],
             responses=error_responses(401, 403, rate_limit=10,
                                       r404="Specified organization, role, or inherited role is not found.",
                                       r400="Base roles cannot inherit from other roles."))
async def modify_role(request: Request, org: OrgDbDep, role_name: str, body: s.ModifyRoleRequest,
                      principal: RoleModifier) -> s.RoleIdResponse:
    """`description` changes in place. A change of `permission_grants` or `frontend_view` creates a new role
    document with the same name; users and API keys move to it and the old one expires after a day."""
    return await service.modify_role(org, principal, role_name, body, _invalidate_principals(request))


@router.post("/role/{role_name}/assign", operation_id="assign-role", tags=["Role"], summary="Assign a role to user",
             response_model=s.RoleIdResponse, dependencies=[rate_limit(1000)],
             responses=error_responses(401, 403, rate_limit=1000,
                                       r404="Specified organization, role, or user is not found."))
async def assign_role(request: Request, org: OrgDbDep, role_name: str, body: s.AssignRoleRequest,
                      principal: Viewer) -> s.RoleIdResponse:
    """The caller needs greater privileges than the role assigned (and than the user's current role)."""
    return await service.assign_role(org, principal, role_name, body.user_id, _invalidate_principals(request))
