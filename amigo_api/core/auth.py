"""Who is calling: credentials -> verified token -> the caller's role and grants in the path org."""

import asyncio
import base64
import binascii
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, NamedTuple, Protocol, TypeVar

from fastapi import Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.security import APIKeyHeader, HTTPBasic, HTTPBearer

from amigo_api.core import permissions
from amigo_api.core.db import ClusterHeader, Document, OrgDb, OrgDbDep, OrgId, get_org_db
from amigo_api.core.errors import MissingCredentials, NotFound, PermissionDenied, Unauthorized
from amigo_api.core.ids import is_valid_org_id
from amigo_api.core.permissions import PermissionGrant
from amigo_api.core.ratelimit import enforce_route_limit
from amigo_api.core.security import TokenService

bearer_scheme = HTTPBearer(
    scheme_name="Bearer-Authorization", auto_error=False,
    description="Amigo issued JWT token that identifies an user, from the sign-in-with-api-key endpoint.",
)
basic_scheme = HTTPBasic(
    scheme_name="Basic", auto_error=False,
    description="The username should be set to {org_id}_{user_id}, and the password should be the Amigo "
                "issued JWT token that identifies the user.",
)
org_header_scheme = APIKeyHeader(
    name="X-ORG-ID", scheme_name="Bearer-Authorization-Organization", auto_error=False,
    description="An optional organization identifier that indicates from which organization the token is "
                "issued, for requests for resources in another organization.",
)


@dataclass
class Principal:
    """An authenticated user acting in `org_id` (the path org), signed in through `issuer_org_id`."""

    org_id: str
    issuer_org_id: str
    user_id: str
    role_id: str
    role_name: str
    role_grants: list[PermissionGrant]
    temporary_grants: list[PermissionGrant] = field(default_factory=list)

    @property
    def grants(self) -> list[PermissionGrant]:
        return self.role_grants + self.temporary_grants

    def can(self, permission: str, attributes: Mapping[str, Any] | None = None) -> bool:
        return permissions.allows(self.grants, permission, attributes or {})

    def require(self, permission: str, attributes: Mapping[str, Any] | None = None) -> None:
        if not self.can(permission, attributes):
            raise PermissionDenied()

    def visible(self, permission: str, fields: Mapping[str, str]) -> Document:
        """MongoDB filter for the documents this caller holds `permission` for."""
        return permissions.visibility_filter(self.grants, permission, fields)

    def outranks(self, role_grants: list[PermissionGrant]) -> bool:
        """Role comparisons use the role only, never temporary grants."""
        return permissions.outranks(self.role_grants, role_grants)

    @property
    def user_info(self) -> Document:
        """The caller as recorded in `creator`/`updated_by` fields: the user in their own organization."""
        return {"org_id": self.issuer_org_id, "user_id": self.user_id}


class PrincipalSource(Protocol):
    """Where `create_app` says principals come from (`app.state.principals`)."""

    async def organization_exists(self, org: OrgDb) -> bool:
        """Whether the organization exists."""

    async def load(self, org: OrgDb, issuer: OrgDb, user_id: str, api_key_id: str) -> tuple[Principal, float] | None:
        """The principal and until when (monotonic seconds) it may be cached; None if the user has no role
        in the org. Raises NotFound when the org does not exist, Unauthorized when the API key the token was
        issued for is deleted or expired."""

    async def load_member(self, org: OrgDb, user_id: str) -> Principal | None:
        """A user of `org` through a credential other than a token; None if the user has no role."""


# (path org, issuer org, user, API key)
CacheKey = tuple[str, str, str, str]
# A principal and until when (monotonic seconds) it may be cached; None when the user has no role in the org.
Loaded = tuple[Principal, float] | None


class PrincipalCache:
    """Short-lived per-process cache; bounds how stale a role change made elsewhere can be."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[CacheKey, tuple[float, Principal]] = {}
        self._loading: dict[CacheKey, asyncio.Task[Loaded]] = {}

    def get(self, key: CacheKey) -> Principal | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, key: CacheKey, principal: Principal, valid_until: float) -> None:
        if self.ttl > 0:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[key] = (min(time.monotonic() + self.ttl, valid_until), principal)

    async def load(self, key: CacheKey, loader: Callable[[], Awaitable[Loaded]]) -> Loaded:
        """Load and cache a principal, once per key at a time: requests that miss while a load is running
        wait for it instead of each querying the database (the cache expires for all of them at once)."""
        task = self._loading.get(key)
        if task is None:
            task = asyncio.ensure_future(loader())
            self._loading[key] = task
            task.add_done_callback(lambda done: self._loaded(key, done))
        return await asyncio.shield(task)

    def _loaded(self, key: CacheKey, task: "asyncio.Task[Loaded]") -> None:
        if self._loading.get(key) is task:
            del self._loading[key]
            if not task.cancelled() and task.exception() is None and (loaded := task.result()) is not None:
                self.put(key, *loaded)

    def invalidate_org(self, org_id: str) -> None:
        """Forget the org's principals, and those signed in through it elsewhere (its keys may be gone)."""
        for key in [k for k in self._entries if org_id in (k[0], k[1])]:
            del self._entries[key]
        for key in [k for k in self._loading if org_id in (k[0], k[1])]:
            del self._loading[key]  # a load already running may predate the change: its result is not kept


class Credentials(NamedTuple):
    token: str
    basic_username: str | None


def parse_authorization(header: str) -> Credentials | None:
    """`Bearer <token>`, or HTTP Basic `{org_id}_{user_id}:<token>`; None when the header holds neither."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        token = value.strip()
        return Credentials(token, None) if token else None
    if scheme.lower() != "basic":
        return None
    try:
        username, sep, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return Credentials(password, username) if sep and password else None


def request_credentials(request: Request) -> Credentials:
    """The request's credentials: 401 when there are none, or when the header holds neither scheme."""
    header = request.headers.get("authorization", "")
    if not header:
        raise MissingCredentials()
    credentials = parse_authorization(header)
    if credentials is None:
        raise Unauthorized()
    return credentials


async def resolve_principal(request: Request, org: OrgDb, credentials: Credentials,
                            issuer_org_id: str | None) -> Principal:
    """The caller, counted against the rate limit the matched route declares."""
    principal = await _principal_for(request, org, credentials, issuer_org_id)
    await enforce_route_limit(request, principal.issuer_org_id, principal.user_id)
    return principal


async def _principal_for(request: Request, org: OrgDb, credentials: Credentials,
                         issuer_org_id: str | None) -> Principal:
    tokens: TokenService = request.app.state.tokens
    principals: PrincipalSource = request.app.state.principals
    claims = await tokens.verify(credentials.token)
    issuer = issuer_org_id or org.org_id
    if claims.org_id != issuer or not is_valid_org_id(issuer):
        if issuer_org_id is None and not await principals.organization_exists(org):
            raise NotFound("The specified organization does not exist.", error_code="organization_not_found")
        raise Unauthorized()
    if credentials.basic_username is not None and credentials.basic_username != f"{claims.org_id}_{claims.user_id}":
        raise Unauthorized()
    cache: PrincipalCache = request.app.state.principal_cache
    key = (org.org_id, issuer, claims.user_id, claims.api_key_id)
    principal = cache.get(key)
    if principal is not None:
        return principal

    async def load() -> Loaded:
        issuer_org = org if issuer == org.org_id else await request.app.state.clusters.org_db(issuer)
        return await principals.load(org, issuer_org, claims.user_id, claims.api_key_id)

    loaded = await cache.load(key, load)
    if loaded is None:
        if issuer != org.org_id:
            raise PermissionDenied("The user has no role in this organization.", error_code="no_role_in_org")
        raise Unauthorized()
    return loaded[0]


AuthenticatorT = TypeVar("AuthenticatorT", bound=Callable[..., Any])
SecurityRequirements = list[dict[str, list[str]]]
# Bearer, Basic (how git authenticates) and X-ORG-ID for a token issued by another organization.
DEFAULT_SECURITY: SecurityRequirements = [{bearer_scheme.scheme_name: []}, {basic_scheme.scheme_name: []},
                                          {org_header_scheme.scheme_name: []}]


@dataclass(frozen=True)
class AuthenticatorInfo:
    # What the OpenAPI document shows for routes using it (read from the headers, not resolved as FastAPI
    # security dependencies: that would cost three dependencies a request). None: the route says.
    security: SecurityRequirements | None
    # Whether the request guard refuses missing or invalid credentials before the body is read (git answers
    # with its own challenge instead).
    checked_before_body: bool


_AUTHENTICATORS: dict[Callable[..., Any], AuthenticatorInfo] = {}


def authenticator(security: SecurityRequirements | None = DEFAULT_SECURITY, *, checked_before_body: bool = True
                  ) -> Callable[[AuthenticatorT], AuthenticatorT]:
    """Mark a dependency that authenticates the caller (401 without valid credentials, 403 without a role in
    the organization): routes that depend on one document those answers and its security (`core.routing`)."""

    def mark(dependency: AuthenticatorT) -> AuthenticatorT:
        _AUTHENTICATORS[dependency] = AuthenticatorInfo(security, checked_before_body)
        return dependency

    return mark


def authenticator_info(call: object) -> AuthenticatorInfo | None:
    if isinstance(call, Permission):
        return _AUTHENTICATORS[authenticate]
    return _AUTHENTICATORS.get(call) if callable(call) else None


def is_authenticator(call: object) -> bool:
    return authenticator_info(call) is not None


def security_schemes() -> dict[str, Any]:
    """The schemes `DEFAULT_SECURITY` names, for the document's components."""
    return {scheme.scheme_name: jsonable_encoder(scheme.model, by_alias=True, exclude_none=True)
            for scheme in (bearer_scheme, basic_scheme, org_header_scheme)}


PRINCIPAL_KEY = "amigo.principal"


@authenticator()
async def authenticate(request: Request, org: OrgDbDep) -> Principal:
    """The caller of the path organization; resolved once per request (a `Permission` calls it directly)."""
    principal: Principal | None = request.scope.get(PRINCIPAL_KEY)
    if principal is None:
        principal = await resolve_principal(request, org, request_credentials(request),
                                            request.headers.get("x-org-id"))
        request.scope[PRINCIPAL_KEY] = principal
    return principal


async def authenticate_optional(request: Request, org: OrgDbDep) -> Principal | None:
    """For endpoints open to anonymous callers that show more to signed-in users."""
    return await authenticate(request, org) if request.headers.get("authorization") else None


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


class Permission:
    """Dependency: the caller must hold `permission` under some grant. Endpoints that act on a specific
    resource then check the resource's attributes with `principal.require(...)`. It authenticates the caller
    itself rather than through a dependency of its own (the principal is resolved once per request)."""

    def __init__(self, *names: str) -> None:
        self.names = names

    async def __call__(self, request: Request, organization: OrgId, x_mongo_cluster_name: ClusterHeader = None
                       ) -> Principal:
        # The path parameters are its own (not an `OrgDbDep` dependency): one dependency fewer to resolve
        # for endpoints that do not take the organization's database themselves.
        principal = await authenticate(request, await get_org_db(request, organization, x_mongo_cluster_name))
        if not any(permissions.holds_any(principal.grants, name) for name in self.names):
            raise PermissionDenied()
        return principal


def require(*names: str) -> Permission:
    """`Annotated[Principal, Depends(require("Service:CreateService"))]`; with several names, any one of them."""
    return Permission(*names)
