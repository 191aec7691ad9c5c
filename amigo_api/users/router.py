"""HTTP endpoints of the User tag (sign-in is with the API keys)."""

from typing import Annotated

from fastapi import Query, Response, status
from pydantic import EmailStr

from amigo_api.core.db import OrgDbDep
from amigo_api.core.ids import object_id_path
from amigo_api.core.openapi import error_responses
from amigo_api.core.pagination import ContinuationToken, SortBy, unique
from amigo_api.core.ratelimit import rate_limit
from amigo_api.core.routing import domain_router
from amigo_api.core.state import AppSettings, CachedPrincipals, Secrets
from amigo_api.users import schemas as s
from amigo_api.users import service
from amigo_api.users.auth import UserDeleter, UserInviter, UserLister, UserModelReader, UserUpdater

router = domain_router("/v1/{organization}/user", tags=["User"])
UserId = Annotated[str, object_id_path("The ID of the user.")]
USER_404 = "Specified organization or user is not found."


@router.post("/", operation_id="create-invited-user", summary="Create a new user", status_code=status.HTTP_201_CREATED,
             response_model=s.CreateInvitedUserResponse, dependencies=[rate_limit(50)],
             responses=error_responses(r404="Specified organization or role is not found.",
                                       r409="User with the same email already exists in this organization, or a "
                                            "related operation is in progress."))
async def create_invited_user(org: OrgDbDep, body: s.CreateInvitedUserRequest, principal: UserInviter,
                              settings: AppSettings, secrets: Secrets) -> s.CreateInvitedUserResponse:
    """Invite a user; with `login_link` an invitation email carrying it is sent."""
    return await service.invite_user(org, principal, body, settings, secrets)


@router.get("/", operation_id="get-users", summary="Get users", response_model=s.GetUsersResponse,
            dependencies=[rate_limit(60)], responses=error_responses(r404="Specified organization is not found."))
async def get_users(
    org: OrgDbDep, principal: UserLister,
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


@router.post("/{user_id}", operation_id="update-user-info", summary="Update user information",
             status_code=status.HTTP_204_NO_CONTENT, response_class=Response, dependencies=[rate_limit(20)],
             responses=error_responses(r404=USER_404))
async def update_user_info(org: OrgDbDep, user_id: UserId, body: s.UpdateUserInfoRequest,
                           principal: UserUpdater) -> Response:
    """Change a user's names, preferences or additional context; fields left out (or `null`) stay as they are."""
    await service.update_user(org, principal, user_id, body)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/{user_id}", operation_id="delete-user", summary="Delete a user",
               status_code=status.HTTP_204_NO_CONTENT, response_class=Response, dependencies=[rate_limit(20)],
               responses=error_responses(r404=USER_404,
                                         r409="The user is the last holder of the organization's top role."))
async def delete_user(org: OrgDbDep, user_id: UserId, principal: UserDeleter, principals: CachedPrincipals) -> Response:
    """Delete a user whose role the caller outranks, with the user's temporary permission grants."""
    await service.delete_user(org, principal, user_id, principals.invalidate_org)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{user_id}/user_model", operation_id="get-user-model", summary="Get user model",
            response_model=s.GetUserModelResponse, dependencies=[rate_limit(60)],
            responses=error_responses(r404=USER_404))
async def get_user_model(org: OrgDbDep, user_id: UserId, principal: UserModelReader) -> s.GetUserModelResponse:
    """The latest user models (built from conversations; empty until there are some) and additional context."""
    return await service.get_user_model(org, principal, user_id)
