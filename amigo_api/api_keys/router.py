"""HTTP endpoints of API keys (tag Organization) and of signing in with one (tag User)."""

from typing import Annotated

from fastapi import Header, status

from amigo_api.api_keys import schemas as s
from amigo_api.api_keys import service
from amigo_api.api_keys.auth import APIKeyCreator, APIKeyDeleter, APIKeyLister, sign_in_identity
from amigo_api.core.db import OrgDbDep
from amigo_api.core.openapi import error_responses
from amigo_api.core.ratelimit import anonymous_rate_limit, rate_limit
from amigo_api.core.routing import domain_router
from amigo_api.core.state import CachedPrincipals, Tokens

router = domain_router("/v1/{organization}")


@router.post("/organization/api_key/", operation_id="create-api-key", tags=["Organization"],
             summary="Create an API key", status_code=status.HTTP_201_CREATED,
             response_model=s.CreateAPIKeyResponse, dependencies=[rate_limit(5)],
             responses=error_responses(r404="The specified organization or role does not exist.",
                                       r400="The organization has reached the maximum API key limit.",
                                       r409="A related operation is in progress."))
async def create_api_key(org: OrgDbDep, body: s.CreateAPIKeyRequest, principal: APIKeyCreator
                         ) -> s.CreateAPIKeyResponse:
    """Create an API key valid for 1 to 90 days. The key is shown once and stored only as a hash."""
    return await service.create_api_key(org, principal, body)


@router.get("/organization/api_key/", operation_id="get-api-keys", tags=["Organization"],
            summary="Get API keys for the organization", response_model=s.GetAPIKeysResponse,
            dependencies=[rate_limit(10)], responses=error_responses(r404="The organization does not exist."))
async def get_api_keys(org: OrgDbDep, principal: APIKeyLister) -> s.GetAPIKeysResponse:
    """The API keys the caller holds `Organization:GetAPIKey` for."""
    return await service.list_api_keys(org, principal)


@router.delete("/organization/api_key/{api_key_id}/", operation_id="delete-api-key", tags=["Organization"],
               summary="Delete an API key", response_model=s.DeleteAPIKeyResponse, dependencies=[rate_limit(10)],
               responses=error_responses(r404="The specified organization or the API key does not exist."))
async def delete_api_key(org: OrgDbDep, api_key_id: str, principal: APIKeyDeleter, principals: CachedPrincipals
                         ) -> s.DeleteAPIKeyResponse:
    return await service.delete_api_key(org, principal, api_key_id, principals.invalidate_org)


@router.post("/user/signin_with_api_key", operation_id="sign-in-with-api-key", tags=["User"],
             summary="Sign in with API key", response_model=s.SigninWithAPIKeyResponse,
             dependencies=[anonymous_rate_limit(5, sign_in_identity)],
             responses=error_responses(r404="Specified organization is not found.",
                                       r401="API key not found, is incorrect, or the requested user is not found."),
             openapi_extra={"security": [{"API-Key-Authorization-Key": [], "API-Key-Authorization-ID": [],
                                          "API-Key-Authorization-UserID": []}]})
async def sign_in_with_api_key(
    org: OrgDbDep, tokens: Tokens,
    x_api_key: Annotated[str, Header(description="The value of the API key.")],
    x_api_key_id: Annotated[str, Header(description="The ID of the API key.")],
    x_user_id: Annotated[str, Header(description="The ID of the user to sign in as.")],
) -> s.SigninWithAPIKeyResponse:
    """Issue a token for the user, to send as `Authorization: Bearer <id_token>`."""
    return await service.sign_in_with_api_key(org, tokens, x_api_key_id, x_api_key, x_user_id)
