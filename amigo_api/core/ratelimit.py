"""Per-user, per-endpoint rate limits as dependencies, on the `limits` engine (memory or Redis).

The dependency records the window on the request; `RateLimitHeadersMiddleware` writes the
`X-RateLimit-*` headers on the way out, on errors too."""

import math
import time
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Depends, Request
from limits import RateLimitItemPerMinute
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from amigo_api.core.auth import Principal, authenticate
from amigo_api.core.errors import RateLimited
from amigo_api.core.observability import appending_headers
from amigo_api.settings import Settings

RATE_LIMIT_STATE = "rate_limit"


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
    request.scope.setdefault("state", {})[RATE_LIMIT_STATE] = (limit, remaining, reset)
    if not allowed:
        raise _exceeded(limit, reset)


def rate_limit(per_minute: int, principal_dependency: Callable[..., Any] = authenticate) -> Any:
    """`dependencies=[rate_limit(N)]`: N requests per minute per user for this endpoint."""

    async def dependency(request: Request, principal: Principal = Depends(principal_dependency)) -> None:
        await _apply(request, per_minute, f"{principal.issuer_org_id}/{principal.user_id}")

    return Depends(dependency)


def anonymous_rate_limit(
    per_minute: int, identity: Callable[[Request], str]
) -> Callable[[Request], Coroutine[Any, Any, None]]:
    """For endpoints without a signed-in user (sign-in): limited per the identity the request names."""

    async def dependency(request: Request) -> None:
        await _apply(request, per_minute, identity(request))

    return dependency


class RateLimitHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        def window_headers(_: Message) -> list[tuple[bytes, bytes]]:
            window = scope.get("state", {}).get(RATE_LIMIT_STATE)
            if window is None:
                return []
            limit, remaining, reset = window
            return [(b"x-ratelimit-limit", str(limit).encode()), (b"x-ratelimit-remaining", str(remaining).encode()),
                    (b"x-ratelimit-reset", str(reset).encode())]

        await self.app(scope, receive, appending_headers(send, window_headers))
