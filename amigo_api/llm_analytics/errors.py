"""PostHog's error body on the LLM analytics routes: one flat object `{type, code, detail, attr}` for the
first error only (`attr`: the field, or null), built from FastAPI's validation errors and our own errors by
one shape (`core.errors.ErrorShape`). 405 answers are empty, as PostHog's."""

from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from amigo_api.core.errors import AmigoError, InvalidRequest

# PostHog's prefixes: the LLM analytics API and the capture endpoints.
API_PREFIXES = ("/api/", "/batch", "/capture", "/e/", "/e", "/i/")
TYPES = {400: "validation_error", 401: "authentication_error", 403: "authentication_error",
         404: "invalid_request", 409: "invalid_request", 413: "invalid_request", 429: "throttled_error"}
CODES = {401: "not_authenticated", 403: "permission_denied", 404: "not_found", 409: "conflict",
         413: "request_too_large", 429: "throttled"}
# Amigo's generic error codes as PostHog's; codes particular to an error pass through.
AMIGO_CODES = {"missing_credentials": "not_authenticated", "invalid_credentials": "authentication_failed",
               "missing_permissions": "permission_denied", "not_found": "not_found", "rate_limited": "throttled"}
# Pydantic's error types as DRF's codes.
VALIDATION_CODES = {"missing": "required", "string_too_long": "max_length", "string_too_short": "min_length",
                    "too_long": "max_length", "too_short": "min_length", "literal_error": "invalid_choice",
                    "enum": "invalid_choice", "greater_than": "min_value", "greater_than_equal": "min_value",
                    "less_than": "max_value", "less_than_equal": "max_value", "json_invalid": "parse_error"}


class FieldError(InvalidRequest):
    """A 400 about one field, as PostHog reports it (`attr`)."""

    def __init__(self, detail: str, attr: str | None, code: str = "invalid") -> None:
        super().__init__(detail, error_code=code)
        self.attr = attr


def body(status: int, code: str, detail: str, attr: str | None = None, error_type: str | None = None
         ) -> dict[str, Any]:
    return {"type": error_type or TYPES.get(status, "server_error" if status >= 500 else "invalid_request"),
            "code": code, "detail": detail, "attr": attr}


def _attr(loc: tuple[Any, ...]) -> str | None:
    parts = [str(p) for p in loc[1:] if not isinstance(p, int)] if loc and loc[0] in ("body", "query", "path") \
        else [str(p) for p in loc]
    return "__".join(parts) or None


class PostHogErrors:
    def amigo(self, exc: AmigoError) -> JSONResponse:
        code = AMIGO_CODES.get(exc.error_code, exc.error_code)
        return JSONResponse(body(exc.status_code, code, exc.detail, getattr(exc, "attr", None)), exc.status_code,
                            headers=exc.headers)

    def validation(self, exc: RequestValidationError) -> JSONResponse:
        first: dict[str, Any] = next(iter(exc.errors()), {})
        code = VALIDATION_CODES.get(first.get("type", ""), "invalid")
        error_type = "invalid_request" if code == "parse_error" else "validation_error"
        detail = "This field is required." if code == "required" else str(first.get("msg", "Invalid input."))
        return JSONResponse(body(400, code, detail, _attr(tuple(first.get("loc", ()))), error_type), 400)

    def http(self, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            return Response(status_code=405, headers=getattr(exc, "headers", None))
        detail = "Not found." if exc.status_code == 404 else str(exc.detail)
        return JSONResponse(body(exc.status_code, CODES.get(exc.status_code, "error"), detail), exc.status_code)
