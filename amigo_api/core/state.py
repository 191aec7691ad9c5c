"""Dependencies that hand endpoints the process-wide objects `create_app` puts on `app.state`."""

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request

from amigo_api.settings import Settings

T = TypeVar("T")


def from_app_state(attribute: str, kind: type[T]) -> Callable[[Request], T]:
    def dependency(request: Request) -> T:
        value = getattr(request.app.state, attribute)
        if not isinstance(value, kind):
            raise TypeError(f"app.state.{attribute} is {type(value).__name__}, expected {kind.__name__}")
        return value

    dependency.__name__ = f"app_state_{attribute}"
    return dependency


AppSettings = Annotated[Settings, Depends(from_app_state("settings", Settings))]
