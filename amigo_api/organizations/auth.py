"""Who may call the Organization endpoints."""

from typing import Annotated

from fastapi import Depends, Request

from amigo_api.core.auth import (
    Principal,
    authenticate_optional,
    authenticator,
    bearer_scheme,
    org_header_scheme,
    request_credentials,
    resolve_principal,
)
from amigo_api.core.db import get_clusters
from amigo_api.core.errors import Unauthorized
from amigo_api.core.ids import is_valid_org_id


@authenticator([{bearer_scheme.scheme_name: []}, {org_header_scheme.scheme_name: []}])
async def authenticate_in_issuer_org(request: Request) -> Principal:
    """For create-organization: the path org does not exist yet, so the caller is authenticated and
    authorized in the organization named by `X-ORG-ID`."""
    x_org_id = request.headers.get("x-org-id")
    if not x_org_id or not is_valid_org_id(x_org_id):
        raise Unauthorized("X-ORG-ID must name the organization that issued the token.")
    issuer = await get_clusters(request).org_db(x_org_id)
    return await resolve_principal(request, issuer, request_credentials(request), x_org_id)


# Its permissions (create-organization's three and the top role) are checked against the new org's ID.
OrganizationCreator = Annotated[Principal, Depends(authenticate_in_issuer_org)]
# get-organization is open to anyone; a signed-in caller with `Organization:GetOrganizationDetails` sees more.
OptionalViewer = Annotated[Principal | None, Depends(authenticate_optional)]
