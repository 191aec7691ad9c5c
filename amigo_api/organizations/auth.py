"""Typed dependencies: the permission each endpoint needs, visible in its signature."""

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials

from amigo_api.core.auth import (
    CurrentPrincipal,
    Principal,
    bearer_scheme,
    credentials_from,
    org_header_scheme,
    require,
    resolve_principal,
)
from amigo_api.core.db import get_clusters
from amigo_api.core.errors import Unauthorized
from amigo_api.core.ids import is_valid_org_id

APIKeyCreator = Annotated[Principal, Depends(require("Organization:CreateAPIKey"))]
APIKeyDeleter = Annotated[Principal, Depends(require("Organization:DeleteAPIKey"))]
UserInviter = Annotated[Principal, Depends(require("User:InviteUser"))]
UserUpdater = Annotated[Principal, Depends(require("User:UpdateUserInfo"))]
UserDeleter = Annotated[Principal, Depends(require("User:DeleteUser"))]
UserModelReader = Annotated[Principal, Depends(require("User:GetUserModel"))]
RoleCreator = Annotated[Principal, Depends(require("Role:CreateRole"))]
RoleModifier = Annotated[Principal, Depends(require("Role:ModifyRole"))]
GrantCreator = Annotated[Principal, Depends(require("Role:CreateTemporaryPermissionGrant"))]
# List endpoints narrow their results to what the caller may see instead of refusing outright.
Viewer = CurrentPrincipal


async def authenticate_in_issuer_org(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    x_org_id: Annotated[str | None, Security(org_header_scheme)],
) -> Principal:
    """For create-organization: the path org does not exist yet, so the caller is authenticated and
    authorized in the organization named by `X-ORG-ID`."""
    if not x_org_id or not is_valid_org_id(x_org_id):
        raise Unauthorized("X-ORG-ID must name the organization that issued the token.")
    issuer = await get_clusters(request).org_db(x_org_id)
    return await resolve_principal(request, issuer, credentials_from(bearer, request), x_org_id)


OrganizationCreator = Annotated[Principal, Depends(authenticate_in_issuer_org)]
