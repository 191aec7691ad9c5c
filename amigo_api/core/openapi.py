"""Documented error responses, so every endpoint's status codes appear in the OpenAPI document."""

from typing import Any

from amigo_api.core.errors import FORBIDDEN_DETAIL, MAINTENANCE_DETAIL, UNAUTHORIZED_DETAIL

_STANDARD = {
    401: UNAUTHORIZED_DETAIL,
    403: FORBIDDEN_DETAIL,
    422: "Invalid request path parameter, query parameter or request body failed validation.",
    503: MAINTENANCE_DETAIL,
}


def error_responses(*codes: int, rate_limit: int | None = None, **described: str) -> dict[int | str, Any]:
    """`described` takes `r404="..."` style keyword arguments for endpoint-specific descriptions."""
    texts = dict(_STANDARD)
    texts.update({int(k[1:]): v for k, v in described.items()})
    if rate_limit is not None:
        texts[429] = f"The user has exceeded the rate limit of {rate_limit} requests per minute for this endpoint."
    wanted = set(codes) | {int(k[1:]) for k in described} | ({429} if rate_limit is not None else set())
    return {code: {"description": texts[code]} for code in sorted(wanted | {422, 503})}
