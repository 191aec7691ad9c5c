"""Who may call the Role endpoints."""

from typing import Annotated

from fastapi import Depends

from amigo_api.core.auth import CurrentPrincipal, Principal, require

RoleCreator = Annotated[Principal, Depends(require("Role:CreateRole"))]
RoleModifier = Annotated[Principal, Depends(require("Role:ModifyRole"))]
GrantCreator = Annotated[Principal, Depends(require("Role:CreateTemporaryPermissionGrant"))]
# The list endpoints narrow their results to what the caller holds `Role:GetRole` or
# `Role:GetTemporaryPermissionGrant` for instead of refusing.
RoleLister = CurrentPrincipal
GrantLister = CurrentPrincipal
# assign-role needs no permission name: the caller must outrank the role and the user's current role.
RoleAssigner = CurrentPrincipal
