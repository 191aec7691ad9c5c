"""The routes of PostHog's API, each declared once (`@environment_route(...)`); `router.py` mounts them all
under `/api/environments/{environment_id}` and again under `/api/projects/{environment_id}`."""

from collections.abc import Callable
from typing import Any

# (path, endpoint, how it is declared), in declaration order.
ENVIRONMENT_ROUTES: list[tuple[str, Callable[..., Any], dict[str, Any]]] = []


def environment_route(path: str, **declaration: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(endpoint: Callable[..., Any]) -> Callable[..., Any]:
        ENVIRONMENT_ROUTES.append((path, endpoint, declaration))
        return endpoint
    return register
