"""Domain errors, each with a status code and a stable error code, mapped to responses once."""

from collections.abc import Sequence
from typing import Any, Protocol, TypeVar, cast

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pymongo.errors import PyMongoError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = structlog.get_logger(__name__)

UNAUTHORIZED_DETAIL = "Invalid authorization credentials."
FORBIDDEN_DETAIL = "Missing required permissions."
MAINTENANCE_DETAIL = "The service is going through temporary maintenance."


FoundT = TypeVar("FoundT")


class AmigoError(Exception):
    status_code = 400
    error_code = "invalid_request"
    detail = "The request is invalid."
    headers: dict[str, str] | None = None

    def __init__(self, detail: str | None = None, *, error_code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self.detail = detail or self.detail
        self.error_code = error_code or self.error_code
        self.headers = headers or self.headers
        super().__init__(self.detail)


class InvalidRequest(AmigoError):
    status_code = 400
    error_code = "invalid_request"


class Unauthorized(AmigoError):
    status_code = 401
    error_code = "invalid_credentials"
    detail = UNAUTHORIZED_DETAIL
    headers = {"WWW-Authenticate": 'Bearer realm="amigo", Basic realm="amigo"'}


MISSING_CREDENTIALS_DETAIL = ("Missing credentials: send `Authorization: Bearer <token>`, with a token from "
                              "POST /v1/{organization}/user/signin_with_api_key.")


class NotAToken(Unauthorized):
    detail = (f"{UNAUTHORIZED_DETAIL} The Bearer value is not a token: an API key is exchanged for one with "
              "POST /v1/{organization}/user/signin_with_api_key (headers x-api-key, x-api-key-id, x-user-id), and "
              "its `id_token` is what `Authorization: Bearer` carries.")


class MissingCredentials(Unauthorized):
    error_code = "missing_credentials"
    detail = MISSING_CREDENTIALS_DETAIL


class PermissionDenied(AmigoError):
    status_code = 403
    error_code = "missing_permissions"
    detail = FORBIDDEN_DETAIL


class NotFound(AmigoError):
    status_code = 404
    error_code = "not_found"
    detail = "The requested resource does not exist."


class Conflict(AmigoError):
    status_code = 409
    error_code = "conflict"
    detail = "The request conflicts with the current state."


class RateLimited(AmigoError):
    status_code = 429
    error_code = "rate_limited"


class Unavailable(AmigoError):
    status_code = 503
    error_code = "maintenance"
    detail = MAINTENANCE_DETAIL


def found(value: FoundT | None, missing: AmigoError) -> FoundT:
    """`value`, or raise `missing` when a lookup found nothing."""
    if value is None:
        raise missing
    return value


def error_body(detail: str, error_code: str, **extra: Any) -> dict[str, Any]:
    return {"detail": detail, "error_code": error_code, **extra}


class ErrorShape(Protocol):
    """Another API's error bodies, for the paths that speak it (`install_error_handlers(app, shapes=...)`)."""

    def amigo(self, exc: AmigoError) -> Response: ...

    def validation(self, exc: RequestValidationError) -> Response: ...

    def http(self, exc: StarletteHTTPException) -> Response: ...


def _shape(request: Request) -> ErrorShape | None:
    for prefix, shape in request.app.state.error_shapes:
        if request.url.path.startswith(prefix):
            return cast(ErrorShape, shape)
    return None


async def _amigo_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AmigoError)
    if (shape := _shape(request)) is not None:
        return shape.amigo(exc)
    return JSONResponse(error_body(exc.detail, exc.error_code), exc.status_code, headers=exc.headers)


def _describe_validation_error(errors: list[dict[str, Any]]) -> str:
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        position = next((part for part in first.get("loc", ()) if isinstance(part, int)), None)
        where = f" at character {position}" if position is not None else ""
        return f"Malformed JSON body{where}: {first.get('ctx', {}).get('error', 'it does not parse')}."
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or "request"
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"Invalid {where}: {first.get('msg', 'failed validation')}{more}."


def _content_type_hint(request: Request, errors: list[dict[str, Any]]) -> str:
    """A body that was not sent as JSON is never read as JSON: say so, rather than only what is missing."""
    content_type = request.headers.get("content-type", "")
    if "json" in content_type or not any(e.get("loc", ())[:1] == ("body",) for e in errors):
        return ""
    sent = f"this request's is `{content_type.split(';')[0][:100]}`" if content_type else "this request has none"
    return f" Send the body as JSON with `Content-Type: application/json` ({sent})."


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if (shape := _shape(request)) is not None:
        return shape.validation(exc)
    raw = list(exc.errors())
    errors = [{k: v for k, v in e.items() if k in ("type", "loc", "msg")} for e in raw]
    detail = _describe_validation_error(raw) + _content_type_hint(request, raw)
    return JSONResponse(error_body(detail, "validation_error", errors=errors), 422)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "invalid_credentials", 403: "forbidden"}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if (shape := _shape(request)) is not None:
        return shape.http(exc)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else "Request failed."
    return JSONResponse(error_body(detail, code), exc.status_code, headers=getattr(exc, "headers", None))


async def _number_too_large(_: Request, exc: Exception) -> JSONResponse:
    # BSON holds 8-byte integers; a larger number from a client is bad input, not a server fault.
    return JSONResponse(error_body("A number in the request is too large.", "number_out_of_range"), 400)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PyMongoError)
    if not exc.timeout:
        return await _unexpected_error(request, exc)
    log.warning("database_timeout", path=request.url.path, error=str(exc)[:500])
    return JSONResponse(error_body("The database did not answer in time; retry shortly.", "database_timeout"), 503,
                        headers={"Retry-After": "5"})


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled_error", path=request.url.path, error=type(exc).__name__)
    return JSONResponse(error_body("An internal error occurred; it has been logged.", "internal_error"), 500)


def install_error_handlers(app: FastAPI, shapes: Sequence[tuple[str, ErrorShape]] = ()) -> None:
    """Amigo's `{detail, error_code}` everywhere, but on paths under a prefix of `shapes`, whose shape
    renders the error instead."""
    app.state.error_shapes = tuple(shapes)
    app.add_exception_handler(AmigoError, _amigo_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OverflowError, _number_too_large)
    app.add_exception_handler(PyMongoError, _database_error)
    app.add_exception_handler(Exception, _unexpected_error)
