"""A pure-ASGI layer in front of the routes: refuses missing or invalid credentials and oversized bodies before
any byte of the body is read.

FastAPI reads and parses a request body before it runs an endpoint's dependencies, so without this layer an
anonymous client could make the API buffer and parse bodies of any size. Only the cheap part of
authentication happens here (credentials present, token signature and expiry, cached); permissions and rate
limits stay in each endpoint's declared dependencies.

Each route declares its body limit with `openapi_extra=body_limit(...)` (documented in the OpenAPI document as
`x-max-body-bytes`); routes that do not use the settings' default. A route that streams its own body (the
git endpoint, event capture) declares `streamed_body()` and is left alone: its body is never buffered here."""

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from amigo_api.core.auth import authenticator_info, parse_authorization
from amigo_api.core.errors import MissingCredentials, Unauthorized, error_body
from amigo_api.core.routing import MATCHED_ROUTE, dependency_calls, route_section
from amigo_api.core.security import TokenService

LIMIT_KEY = "x-max-body-bytes"
STREAMED_KEY = "x-streamed-body"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def body_limit(max_bytes: int) -> dict[str, Any]:
    """`openapi_extra` for a route that takes bodies larger than the default."""
    return {LIMIT_KEY: max_bytes}


def streamed_body(max_bytes: int | None = None) -> dict[str, Any]:
    """`openapi_extra` for a route that reads its body as a stream and bounds it itself (to `max_bytes`, which is
    documented; this layer does not read or buffer such a body)."""
    return {STREAMED_KEY: True, **({LIMIT_KEY: max_bytes} if max_bytes is not None else {})}


@dataclass(frozen=True)
class RouteRules:
    route: APIRoute
    needs_credentials: bool
    max_body_bytes: int | None


def _checks_credentials_before_body(dependant: Dependant) -> bool:
    infos = [info for call in dependency_calls(dependant) if (info := authenticator_info(call)) is not None]
    return any(info.checked_before_body for info in infos)


def rules_for(routes: Iterable[BaseRoute], default_limit: int) -> list[RouteRules]:
    rules = []
    for route in routes:
        if not isinstance(route, APIRoute):
            continue
        extra = route.openapi_extra or {}
        limit = None if extra.get(STREAMED_KEY) else int(extra.get(LIMIT_KEY, default_limit))
        rules.append(RouteRules(route, _checks_credentials_before_body(route.dependant), limit))
    return rules


async def _send_json(send: Send, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    payload = json.dumps(body).encode()
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                   (b"connection", b"close")]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})


async def _too_large(send: Send, limit: int) -> None:
    await _send_json(send, 413, error_body(f"The request body is larger than this endpoint accepts ({limit} bytes).",
                                           "request_too_large"))


class RequestGuardMiddleware:
    def __init__(self, app: ASGIApp, routes: Iterable[BaseRoute], default_limit: int) -> None:
        self.app = app
        self.sections: dict[str, list[RouteRules]] = {}
        for rules in rules_for(routes, default_limit):
            self.sections.setdefault(route_section(rules.route.path), []).append(rules)

    def _match(self, scope: Scope) -> RouteRules | None:
        for rules in self.sections.get(route_section(scope["path"]), ()):
            match, child_scope = rules.route.matches(scope)
            if match is Match.FULL:
                scope[MATCHED_ROUTE] = (rules.route, child_scope)  # the router need not look again
                return rules
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rules = self._match(scope)
        if rules is None:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if rules.needs_credentials:
            refusal = await self._credentials_refusal(scope, headers)
            if refusal is not None:
                await _send_json(send, 401, error_body(refusal.detail, refusal.error_code), refusal.headers)
                return
        if rules.max_body_bytes is None or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        await self._bounded(scope, receive, send, headers, rules.max_body_bytes)

    async def _credentials_refusal(self, scope: Scope, headers: dict[bytes, bytes]) -> Unauthorized | None:
        if b"authorization" not in headers:
            return MissingCredentials()
        credentials = parse_authorization(headers[b"authorization"].decode("latin-1"))
        if credentials is None:
            return Unauthorized()
        tokens: TokenService = scope["app"].state.tokens
        try:
            await tokens.verify(credentials.token)
        except Unauthorized as exc:
            return exc
        return None

    async def _bounded(self, scope: Scope, receive: Receive, send: Send, headers: dict[bytes, bytes],
                       limit: int) -> None:
        """A declared length over the limit is refused at once; an undeclared (chunked) body is read here up to
        the limit and then handed on."""
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                length = limit + 1
            if length > limit:
                await _too_large(send, limit)
                return
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _too_large(send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
