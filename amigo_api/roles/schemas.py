"""Request and response models of the Role endpoints (roles and temporary permission grants)."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from amigo_api.core.permissions import PermissionGrant
from amigo_api.core.schemas import ContractModel, IsoDuration, Tags, UserInfo

FrontendView = Literal["client", "admin"]


class CreateRoleRequest(ContractModel):
    role_name: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    description: Annotated[str, StringConstraints(min_length=1)]
    permission_grants: list[PermissionGrant]
    frontend_view: FrontendView


class RoleIdResponse(ContractModel):
    role_id: str


class RoleInstance(ContractModel):
    id: str
    name: str
    description: str
    frontend_view: FrontendView
    permission_grants: list[PermissionGrant]


class GetRolesResponse(ContractModel):
    roles: list[RoleInstance]


class ModifyRoleRequest(ContractModel):
    description: Annotated[str, StringConstraints(min_length=1)] | None = None
    permission_grants: list[PermissionGrant] | None = None
    frontend_view: FrontendView | None = None


class AssignRoleRequest(ContractModel):
    user_id: str


# Temporary permission grants ------------------------------------------------------------------------

class CreateTemporaryPermissionGrantRequest(ContractModel):
    user_id: str
    duration: IsoDuration
    permission_grant: PermissionGrant
    tags: Tags
    justification: Annotated[str, StringConstraints(min_length=10)]


class CreateTemporaryPermissionGrantResponse(ContractModel):
    temporary_permission_grant_id: str
    expires_at: datetime


class TemporaryPermissionGrant(ContractModel):
    """A temporary permission grant provides an user additional permission grants beyond what their role
    allows for a limited amount of time."""

    id: str = Field(alias="_id")
    org_id: str
    created_at: datetime
    updated_at: datetime
    user_id: str
    expires_at: datetime
    permission_grant: PermissionGrant
    justification: str
    creator: UserInfo
    tags: dict[str, str | None]


class GetTemporaryPermissionGrantsResponse(ContractModel):
    temporary_permission_grants: list[TemporaryPermissionGrant]
    has_more: bool
    continuation_token: int | None
