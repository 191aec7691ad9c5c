"""Per-user, per-endpoint rate limits on GCRA (`core/gcra.py`), in memory or in Redis.

An endpoint declares its limit with `dependencies=[rate_limit(N)]`. That declaration is not resolved as a
dependency of its own: `DeclaredRoute` (core/routing.py) reads it, documents the 429, and keeps the number on
the route, and the route's authentication counts the call once it knows the caller (`core.auth`), so a
request pays for one dependency instead of two. Endpoints without a signed-in caller use
`anonymous_rate_limit`, a dependency limited per the identity the request names.

The `X-RateLimit-*` headers are recorded on the request; they go out on errors too."""

import math
from collections.abc import Callable
from typing import Any

from fastapi import Depends, Request

from amigo_api.core.errors import RateLimited
from amigo_api.core.gcra import Decision, store_from_uri
from amigo_api.core.observability import add_response_headers
from amigo_api.settings import Settings


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.store = store_from_uri(settings.rate_limit_storage)
        self.scale = settings.rate_limit_scale

    def scaled(self, per_minute: int) -> int:
        return max(1, math.floor(per_minute * self.scale))

    async def hit(self, per_minute: int, endpoint: str, identity: str) -> Decision:
        return await self.store.hit(f"{endpoint}/{identity}", self.scaled(per_minute))


def _exceeded(decision: Decision) -> RateLimited:
    return RateLimited(
        f"The user has exceeded the rate limit of {decision.limit} requests per minute for this endpoint.",
        headers={"Retry-After": str(decision.retry_after)},
    )


async def enforce(request: Request, per_minute: int, identity: str) -> None:
    """Count one call of the request's endpoint for `identity`; 429 past the limit."""
    limiter: RateLimiter = request.app.state.rate_limiter
    route = request.scope.get("route")
    endpoint = getattr(route, "operation_id", None) or request.url.path
    decision = await limiter.hit(per_minute, endpoint, identity)
    add_response_headers(request, {"X-RateLimit-Limit": str(decision.limit),
                                   "X-RateLimit-Remaining": str(decision.remaining),
                                   "X-RateLimit-Reset": str(decision.reset)})
    if not decision.allowed:
        raise _exceeded(decision)


async def enforce_route_limit(request: Request, issuer_org_id: str, user_id: str) -> None:
    """The limit the matched route declares, for the caller its authentication found."""
    per_minute: int | None = getattr(request.scope.get("route"), "rate_limit", None)
    if per_minute is not None:
        await enforce(request, per_minute, f"{issuer_org_id}/{user_id}")


class RateLimit:
    """The declaration `N requests per minute per user for this endpoint` (see the module's docstring)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute

    async def __call__(self) -> None:
        raise RuntimeError("RateLimit is declared on routes built by core.routing.domain_router, which enforce it "
                           "through the route's authentication; this route does not.")


class AnonymousRateLimit:
    """For endpoints without a signed-in user (sign-in, signed result URLs): limited per the identity the
    request names."""

    def __init__(self, per_minute: int, identity: Callable[[Request], str]) -> None:
        self.per_minute = per_minute
        self.identity = identity

    async def __call__(self, request: Request) -> None:
        await enforce(request, self.per_minute, self.identity(request))


def rate_limit(per_minute: int) -> Any:
    """`dependencies=[rate_limit(N)]`: N requests per minute per user for this endpoint."""
    return Depends(RateLimit(per_minute))


def anonymous_rate_limit(per_minute: int, identity: Callable[[Request], str]) -> Any:
    """`dependencies=[anonymous_rate_limit(N, identity)]`: N requests per minute per identity."""
    return Depends(AnonymousRateLimit(per_minute, identity))


def declared_limit(call: object) -> int | None:
    """The limit a dependency declares, if it is a rate limit."""
    return call.per_minute if isinstance(call, RateLimit | AnonymousRateLimit) else None
