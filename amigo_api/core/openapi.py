"""Endpoint-specific error descriptions. The answers every route shares (401/403 when it authenticates, 429
for its rate limit, 422, 503) are derived from its dependencies by `core.routing`."""

from typing import Any


def error_responses(**described: str) -> dict[int | str, Any]:
    """`error_responses(r404="...", r409="...")`: each status code with the endpoint's description of it."""
    return {int(name[1:]): {"description": text} for name, text in described.items()}
