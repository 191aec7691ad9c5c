"""Per-user, per-endpoint rate limits as dependencies, on the `limits` engine (memory or Redis).

The dependency records the `X-RateLimit-*` headers on the request; they go out on errors too."""

import inspect
import math
import time
from collections.abc import Callable
from typing import Any

from fastapi import Depends, Request
from limits import RateLimitItemPerMinute
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from amigo_api.core.auth import Principal, authenticate
from amigo_api.core.errors import RateLimited
from amigo_api.core.observability import add_response_headers
from amigo_api.settings import Settings


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        uri = settings.rate_limit_storage.removeprefix("async+")
        # redis-py is already a dependency; limits would otherwise want coredis for async Redis.
        options = {"implementation": "redispy"} if uri.startswith(("redis", "rediss")) else {}
        self.storage = storage_from_string(f"async+{uri}", **options)
        self.strategy = MovingWindowRateLimiter(self.storage)
        self.scale = settings.rate_limit_scale

    def scaled(self, per_minute: int) -> int:
        return max(1, math.floor(per_minute * self.scale))

    async def hit(self, per_minute: int, *identifiers: str) -> tuple[bool, int, int, int]:
        """(allowed, limit, remaining, reset epoch seconds)."""
        limit = self.scaled(per_minute)
        item = RateLimitItemPerMinute(limit)
        allowed = await self.strategy.hit(item, *identifiers)
        stats = await self.strategy.get_window_stats(item, *identifiers)
        reset = math.ceil(stats.reset_time) if stats.reset_time else int(time.time()) + 60
        return allowed, limit, stats.remaining, reset


def _exceeded(limit: int, reset: int) -> RateLimited:
    retry_after = min(60, max(1, reset - int(time.time())))
    return RateLimited(
        f"The user has exceeded the rate limit of {limit} requests per minute for this endpoint.",
        headers={"Retry-After": str(retry_after)},
    )


async def _apply(request: Request, per_minute: int, identity: str) -> None:
    limiter: RateLimiter = request.app.state.rate_limiter
    route = request.scope.get("route")
    endpoint = getattr(route, "operation_id", None) or request.url.path
    allowed, limit, remaining, reset = await limiter.hit(per_minute, endpoint, identity)
    add_response_headers(request, {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining),
                                   "X-RateLimit-Reset": str(reset)})
    if not allowed:
        raise _exceeded(limit, reset)


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
