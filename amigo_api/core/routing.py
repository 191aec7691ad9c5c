"""Routes whose documented answers come from their dependencies: an endpoint declares its authentication,
permission and rate limit once (as dependencies) and its OpenAPI responses follow from them, so the
documentation cannot drift from what is enforced."""

import re
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

from amigo_api.core.auth import SecurityRequirements, authenticator_info, is_authenticator
from amigo_api.core.errors import FORBIDDEN_DETAIL, MAINTENANCE_DETAIL, UNAUTHORIZED_DETAIL
from amigo_api.core.ratelimit import RateLimit, declared_limit

VALIDATION_DETAIL = "Invalid request path parameter, query parameter or request body failed validation."


def dependency_calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    """Every dependency a route runs, depth first."""
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from dependency_calls(sub)


def declared_limits(dependant: Dependant) -> set[int]:
    return {limit for call in dependency_calls(dependant) if (limit := declared_limit(call)) is not None}


def enforced_limits(route: APIRoute) -> set[int]:
    """What the route enforces: the limit its authentication counts, or an anonymous limit's."""
    limits = declared_limits(route.dependant)
    route_limit = getattr(route, "rate_limit", None)
    return limits | {route_limit} if route_limit is not None else limits


def is_authenticated(dependant: Dependant) -> bool:
    return any(is_authenticator(call) for call in dependency_calls(dependant))


def rate_limit_detail(per_minute: int) -> str:
    return f"The user has exceeded the rate limit of {per_minute} requests per minute for this endpoint."


def declared_responses(dependant: Dependant, limits: set[int], responses: dict[int | str, Any]
                       ) -> dict[int | str, Any]:
    """The route's own responses, plus 401/403 when it authenticates, 429 for its rate limit, and the 422 and
    503 every route can answer. Descriptions the route gives itself win."""
    derived: dict[int, str] = {422: VALIDATION_DETAIL, 503: MAINTENANCE_DETAIL}
    if is_authenticated(dependant):
        derived.update({401: UNAUTHORIZED_DETAIL, 403: FORBIDDEN_DETAIL})
    if len(limits) > 1:
        raise ValueError(f"A route enforces several rate limits: {sorted(limits)}")
    if limits:
        derived[429] = rate_limit_detail(limits.pop())
    merged: dict[int | str, Any] = {code: {"description": text} for code, text in derived.items()}
    for code, response in responses.items():
        merged[code] = {**merged.get(int(code), {}), **response} if str(code).isdigit() else response
    return dict(sorted(merged.items(), key=lambda item: str(item[0])))


def declared_security(dependant: Dependant) -> SecurityRequirements | None:
    """The security requirement of the route's authenticator, for the document."""
    for call in dependency_calls(dependant):
        info = authenticator_info(call)
        if info is not None:
            return info.security
    return None


class DeclaredRoute(APIRoute):
    """Documents what the route's dependencies enforce, and hands its `RateLimit` declaration to its
    authentication (see core/ratelimit.py) instead of resolving it as a dependency of its own."""

    rate_limit: int | None

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        self.rate_limit = self._take_rate_limit()
        if self.rate_limit is not None and not is_authenticated(self.dependant):
            raise ValueError(f"{self.path}: rate_limit() needs an authenticated route; use anonymous_rate_limit()")
        self.responses = declared_responses(self.dependant, enforced_limits(self), self.responses)
        security = declared_security(self.dependant)
        if security is not None and "security" not in (self.openapi_extra or {}):
            self.openapi_extra = {**(self.openapi_extra or {}), "security": security}


    def _take_rate_limit(self) -> int | None:
        limits = [d.call.per_minute for d in self.dependant.dependencies if isinstance(d.call, RateLimit)]
        self.dependant.dependencies = [d for d in self.dependant.dependencies if not isinstance(d.call, RateLimit)]
        return limits[0] if limits else None


class SlashOptionalRoute(DeclaredRoute):
    """PostHog's routing (its router's `trailing_slash=r"/?"`): the path matches with or without its trailing
    slash, never through a redirect, which clients drop on POST and PATCH. Documented as declared."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        pattern = self.path_regex.pattern.removesuffix("$").removesuffix("/")
        self.path_regex = re.compile(f"{pattern}/?$")


def route_section(path: str) -> str:
    """The first segment after `/v1/{organization}/` (`admin`, `user`, `service`, ...), or "" outside `/v1`.
    Every `/v1` route's section is a literal, so a request can only match the routes of its own section."""
    parts = path.split("/", 4)
    return parts[3] if len(parts) > 3 and parts[1] == "v1" else ""


# Where the request guard leaves the route it matched, with its child scope, for `SectionDispatch`.
MATCHED_ROUTE = "amigo.matched_route"


class SectionDispatch:
    """The app router's entry point: looks for a `/v1` request's route among the routes of its section only,
    in the router's order, instead of trying every route. Anything else (no full match in the section: 405,
    slash redirects, 404; and paths outside `/v1`) goes to the router's own matching."""

    def __init__(self, router: APIRouter) -> None:
        self.router = router
        self.fallback = router.middleware_stack
        self.sections: dict[str, list[BaseRoute]] = {}
        for route in router.routes:
            section = route_section(getattr(route, "path", ""))
            if section:
                self.sections.setdefault(section, []).append(route)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            matched = scope.pop(MATCHED_ROUTE, None) or self._match(scope)
            if matched is not None:
                route, child_scope = matched
                scope.setdefault("router", self.router)
                scope.update(child_scope)
                await route.handle(scope, receive, send)
                return
        await self.fallback(scope, receive, send)

    def _match(self, scope: Scope) -> tuple[BaseRoute, Scope] | None:
        for route in self.sections.get(route_section(scope["path"]), ()):
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                return route, child_scope
        return None


def dispatch_by_section(app: FastAPI) -> None:
    """Call once every route is on the app."""
    app.router.middleware_stack = SectionDispatch(app.router)


def domain_router(prefix: str, *, slash_optional: bool = False, **kwargs: Any) -> APIRouter:
    """Every domain's router: its routes document what their dependencies enforce. `slash_optional`: PostHog's
    routes, which answer with or without the trailing slash."""
    return APIRouter(prefix=prefix, route_class=SlashOptionalRoute if slash_optional else DeclaredRoute, **kwargs)
