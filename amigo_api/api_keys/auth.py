"""Who may call the API key endpoints. Sign-in has no caller yet: it is limited per named user instead."""

from typing import Annotated

from fastapi import Depends, Request

from amigo_api.core.auth import CurrentPrincipal, Principal, require

APIKeyCreator = Annotated[Principal, Depends(require("Organization:CreateAPIKey"))]
APIKeyDeleter = Annotated[Principal, Depends(require("Organization:DeleteAPIKey"))]
# get-api-keys narrows its results to the keys the caller holds `Organization:GetAPIKey` for.
APIKeyLister = CurrentPrincipal


def sign_in_identity(request: Request) -> str:
    """Sign-in attempts are counted per organization and named user."""
    org_id = request.path_params.get("organization", "")
    return f"signin/{org_id}/{request.headers.get('x-user-id', '')}"
