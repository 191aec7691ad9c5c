"""Who may call `/api/environments/{environment_id}/...`: an Amigo JWT (Bearer, or Basic `{org}_{user}`) of a
user of the environment's organization, or a personal API key (`phx_...`) with the scope the route declares.
A key acts as its user: it needs the scope AND the user's grant. Every check is this one dependency:

- no credentials, or unknown ones: 401;
- an environment that does not exist: 404;
- an environment of another organization, a missing scope or grant: 403;
- a route that declares no scope for keys refuses them with PostHog's message."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Path, Request

from amigo_api.core.auth import (
    Principal,
    SecurityRequirements,
    authenticator,
    basic_scheme,
    bearer_scheme,
    parse_authorization,
    resolve_principal,
)
from amigo_api.core.db import OrgDb
from amigo_api.core.errors import MissingCredentials, NotFound, PermissionDenied, Unauthorized
from amigo_api.core.ratelimit import enforce_route_limit
from amigo_api.core.security import TokenService
from amigo_api.llm_analytics.repository import EnvironmentDocument, PersonalApiKeyDocument
from amigo_api.llm_analytics.service import PERSONAL_KEY_PREFIX, find_environment, key_for_value, scopes_allow

# The Amigo permission each scope needs of the key's user (or the token's).
PERMISSION_FOR_SCOPE = {"dataset:read": "LLMAnalytics:GetDataset", "dataset:write": "LLMAnalytics:ModifyDataset",
                        "evaluation:read": "LLMAnalytics:GetEvaluation",
                        "evaluation:write": "LLMAnalytics:ModifyEvaluation"}
NO_KEYS = "This action does not support Personal API Key access"
NO_ACCESS = "You don't have access to the project."
SECURITY: SecurityRequirements = [{bearer_scheme.scheme_name: []}, {basic_scheme.scheme_name: []}]
EnvironmentId = Annotated[int, Path(ge=1, le=2**62, description="The environment (PostHog's project) id.")]


@dataclass(frozen=True)
class EnvironmentCaller:
    environment: EnvironmentDocument
    org: OrgDb
    principal: Principal
    api_key: PersonalApiKeyDocument | None


async def _key_caller(request: Request, environment: EnvironmentDocument, org: OrgDb, value: str, scope: str | None,
                      keys_allowed: bool) -> tuple[Principal, PersonalApiKeyDocument]:
    if not keys_allowed:
        raise PermissionDenied(NO_KEYS, error_code="permission_denied")
    key = await key_for_value(request.app.state.clusters.infra, value)
    if key is None:
        raise Unauthorized("Personal API key is invalid.", error_code="authentication_failed")
    if key["org_id"] != environment["org_id"]:
        raise PermissionDenied(NO_ACCESS)
    if scope is not None and not scopes_allow(key["scopes"], scope):
        raise PermissionDenied(f"API key missing required scope '{scope}'")
    principal = await request.app.state.principals.load_member(org, key["user_id"])
    if principal is None:
        raise Unauthorized("The key's user is no longer a member of the organization.",
                           error_code="authentication_failed")
    await enforce_route_limit(request, principal.issuer_org_id, principal.user_id)
    return principal, key


async def _token_caller(request: Request, environment: EnvironmentDocument, org: OrgDb, header: str) -> Principal:
    credentials = parse_authorization(header)
    if credentials is None:
        raise Unauthorized()
    tokens: TokenService = request.app.state.tokens
    claims = await tokens.verify(credentials.token)
    if claims.org_id != environment["org_id"]:
        raise PermissionDenied(NO_ACCESS)
    return await resolve_principal(request, org, credentials, None)


class EnvironmentAccess:
    """`Annotated[EnvironmentCaller, Depends(EnvironmentAccess("dataset:read"))]`. `scope` None: any valid
    credential of the environment; `keys_allowed=False`: a custom action that declares no scope for keys."""

    def __init__(self, scope: str | None, keys_allowed: bool = True) -> None:
        self.scope = scope
        self.keys_allowed = keys_allowed

    async def __call__(self, request: Request, environment_id: EnvironmentId) -> EnvironmentCaller:
        header = request.headers.get("authorization", "")
        if not header:
            raise MissingCredentials("Authentication credentials were not provided.")
        environment = await find_environment(request.app.state.clusters.infra, environment_id)
        if environment is None:
            raise NotFound("Not found.")
        org = await request.app.state.clusters.org_db(environment["org_id"])
        key: PersonalApiKeyDocument | None = None
        value = header.partition(" ")[2].strip()
        if header.lower().startswith("bearer ") and value.startswith(PERSONAL_KEY_PREFIX):
            principal, key = await _key_caller(request, environment, org, value, self.scope, self.keys_allowed)
        else:
            principal = await _token_caller(request, environment, org, header)
        if self.scope is not None:
            principal.require(PERMISSION_FOR_SCOPE[self.scope])
        return EnvironmentCaller(environment, org, principal, key)


def environment_access(scope: str | None, keys_allowed: bool = True) -> EnvironmentAccess:
    """A marked authenticator: routes using it document 401/403 and may declare `rate_limit(N)`."""
    return authenticator(SECURITY, checked_before_body=False)(EnvironmentAccess(scope, keys_allowed))
