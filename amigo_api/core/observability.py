"""Structured JSON logs with a request id, and Prometheus metrics."""

import json
import logging
import os
import random
import sys
import time

import structlog
from prometheus_client import Counter, Histogram
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter("amigo_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("amigo_http_request_seconds", "HTTP request latency", ["method", "route"])

log = structlog.get_logger("amigo_api.http")


def configure_logging(level: str = "INFO", json_output: bool = True) -> None:
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level.upper(), force=True)
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json_output else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )


RESPONSE_HEADERS = "response_headers"


def add_response_headers(request: Request, headers: dict[str, str]) -> None:
    """Headers a dependency wants on the response, error responses included (the middleware writes them)."""
    pending = request.scope.setdefault("state", {}).setdefault(RESPONSE_HEADERS, [])
    pending.extend((name.lower().encode(), value.encode()) for name, value in headers.items())


class AccessLog:
    """One line per request (or a sample of them), structured like every other log line but rendered
    directly: the access line is on every request's path, structlog's processor chain is not needed for it."""

    def __init__(self, level: str, json_output: bool, sample_rate: float) -> None:
        self.enabled = logging.getLevelName(level.upper()) <= logging.INFO and sample_rate > 0
        self.json_output = json_output
        self.sample_rate = sample_rate
        self._second = -1
        self._second_text = ""

    def _timestamp(self, now: float) -> str:
        """ISO 8601 in UTC with microseconds, as structlog writes it; the seconds are formatted once a second."""
        second = int(now)
        if second != self._second:
            self._second, self._second_text = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._second_text}.{int((now - second) * 1e6):06d}Z"

    def write(self, method: str, path: str, status: int, elapsed: float, request_id: str) -> None:
        if not self.enabled or (status < 500 and self.sample_rate < 1 and random.random() >= self.sample_rate):
            return
        duration_ms = round(elapsed * 1000, 2)
        if not self.json_output:
            log.info("request", request_id=request_id, method=method, path=path, status=status,
                     duration_ms=duration_ms)
            return
        sys.stderr.write(
            f'{{"method": {json.dumps(method)}, "path": {json.dumps(path)}, "status": {status}, '
            f'"duration_ms": {duration_ms}, "event": "request", "request_id": {json.dumps(request_id)}, '
            f'"level": "info", "timestamp": "{self._timestamp(time.time())}"}}\n')


class RequestContextMiddleware:
    """Gives each request an id (or keeps the caller's `X-Request-ID`), logs it, counts it, and writes the
    headers dependencies recorded with `add_response_headers`."""

    def __init__(self, app: ASGIApp, access_log: AccessLog) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _header(scope, b"x-request-id") or os.urandom(16).hex()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode()),
                                      *scope.get("state", {}).get(RESPONSE_HEADERS, [])]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            REQUESTS.labels(scope["method"], route, str(status)).inc()
            LATENCY.labels(scope["method"], route).observe(elapsed)
            self.access_log.write(scope["method"], scope["path"], status, elapsed, request_id)
            structlog.contextvars.unbind_contextvars("request_id")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")[:128]
    return None
