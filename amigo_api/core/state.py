"""Dependencies that hand endpoints the process-wide objects `create_app` puts on `app.state`: handlers take
these, never `request.app.state` itself."""

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from temporalio.client import Client

from amigo_api.core.auth import PrincipalCache
from amigo_api.core.blobs import BlobStore
from amigo_api.core.crypto import SecretBox
from amigo_api.core.security import TokenService
from amigo_api.settings import Settings

T = TypeVar("T")


def from_app_state(attribute: str, kind: type[T]) -> Callable[[Request], Awaitable[T]]:
    # async, so that FastAPI calls it in the event loop instead of handing it to a worker thread.
    async def dependency(request: Request) -> T:
        value = getattr(request.app.state, attribute)
        if not isinstance(value, kind):
            raise TypeError(f"app.state.{attribute} is {type(value).__name__}, expected {kind.__name__}")
        return value

    dependency.__name__ = f"app_state_{attribute}"
    return dependency


AppSettings = Annotated[Settings, Depends(from_app_state("settings", Settings))]
Tokens = Annotated[TokenService, Depends(from_app_state("tokens", TokenService))]
Secrets = Annotated[SecretBox, Depends(from_app_state("secret_box", SecretBox))]
CachedPrincipals = Annotated[PrincipalCache, Depends(from_app_state("principal_cache", PrincipalCache))]
Blobs = Annotated[BlobStore, Depends(from_app_state("blobs", BlobStore))]


async def _temporal_client(request: Request) -> Client | None:
    client: Client | None = request.app.state.temporal
    return client


# None when the server runs without Temporal (`AMIGO_TEMPORAL_REQUIRED=false`).
TemporalClient = Annotated[Client | None, Depends(_temporal_client)]
