"""Per-user, per-endpoint rate limits as dependencies, on GCRA (`core/gcra.py`): in memory or in Redis.

The dependency records the `X-RateLimit-*` headers on the request; they go out on errors too."""

import inspect
import math
from collections.abc import Callable
from typing import Any

from fastapi import Depends, Request

from amigo_api.core.auth import Principal, authenticate
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


async def _apply(request: Request, per_minute: int, identity: str) -> None:
    limiter: RateLimiter = request.app.state.rate_limiter
    route = request.scope.get("route")
    endpoint = getattr(route, "operation_id", None) or request.url.path
    decision = await limiter.hit(per_minute, endpoint, identity)
    add_response_headers(request, {"X-RateLimit-Limit": str(decision.limit),
                                   "X-RateLimit-Remaining": str(decision.remaining),
                                   "X-RateLimit-Reset": str(decision.reset)})
    if not decision.allowed:
        raise _exceeded(decision)


class RateLimit:
    """Dependency: `per_minute` requests per minute per user for this endpoint. The route documents its 429
    from `per_minute` (see `core.routing`), so what is enforced and what is documented cannot disagree."""

    def __init__(self, per_minute: int, principal_dependency: Callable[..., Any] = authenticate) -> None:
        self.per_minute = per_minute
        # The principal comes from the endpoint's own authenticator (git's, the issuer org's, or the default).
        self.__signature__ = inspect.Signature([
            inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request),
            inspect.Parameter("principal", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Principal,
                              default=Depends(principal_dependency)),
        ])

    async def __call__(self, request: Request, principal: Principal) -> None:
        await _apply(request, self.per_minute, f"{principal.issuer_org_id}/{principal.user_id}")


class AnonymousRateLimit:
    """For endpoints without a signed-in user (sign-in, signed result URLs): limited per the identity the
    request names."""

    def __init__(self, per_minute: int, identity: Callable[[Request], str]) -> None:
        self.per_minute = per_minute
        self.identity = identity

    async def __call__(self, request: Request) -> None:
        await _apply(request, self.per_minute, self.identity(request))


def rate_limit(per_minute: int, principal_dependency: Callable[..., Any] = authenticate) -> Any:
    """`dependencies=[rate_limit(N)]`: N requests per minute per user for this endpoint."""
    return Depends(RateLimit(per_minute, principal_dependency))


def anonymous_rate_limit(per_minute: int, identity: Callable[[Request], str]) -> Any:
    """`dependencies=[anonymous_rate_limit(N, identity)]`: N requests per minute per identity."""
    return Depends(AnonymousRateLimit(per_minute, identity))


def declared_limit(call: object) -> int | None:
    """The limit a dependency enforces, if it is a rate limit."""
    return call.per_minute if isinstance(call, RateLimit | AnonymousRateLimit) else None
