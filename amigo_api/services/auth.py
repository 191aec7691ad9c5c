"""Who may call the Service endpoints."""

from typing import Annotated

from fastapi import Depends

from amigo_api.core.auth import CurrentPrincipal, Principal, require

ServiceCreator = Annotated[Principal, Depends(require("Service:CreateService"))]
ServiceUpdater = Annotated[Principal, Depends(require("Service:UpdateService"))]
VersionSetDeleter = Annotated[Principal, Depends(require("Service:DeleteVersionSet"))]
# Upserting a version set creates it (`Service:CreateVersionSet`) or replaces it (`Service:UpdateVersionSet`):
# the caller must hold one of them; the service checks the one that applies against the service's attributes
# once it knows whether the version set exists.
VersionSetWriter = Annotated[Principal, Depends(require("Service:CreateVersionSet", "Service:UpdateVersionSet"))]
# get-services narrows its results to the services the caller holds `Service:GetService` for.
ServiceLister = CurrentPrincipal
