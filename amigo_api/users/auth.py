"""Who may call the User endpoints. Each checks the user's own attributes again in the service."""

from typing import Annotated

from fastapi import Depends

from amigo_api.core.auth import CurrentPrincipal, Principal, require

UserInviter = Annotated[Principal, Depends(require("User:InviteUser"))]
UserUpdater = Annotated[Principal, Depends(require("User:UpdateUserInfo"))]
UserDeleter = Annotated[Principal, Depends(require("User:DeleteUser"))]
UserModelReader = Annotated[Principal, Depends(require("User:GetUserModel"))]
# get-users narrows its results to the users the caller holds `User:GetUserInfo` for instead of refusing.
UserLister = CurrentPrincipal
