"""HTTP endpoints of LLM analytics (docs/llm-analytics.md):

- `/v1/{organization}/llm_analytics/...`, Amigo's conventions: environments and personal API keys;
- `/api/environments/{environment_id}/...` and the same routes under `/api/projects/...`, PostHog's shapes;
- PostHog's capture endpoints, authenticated by the project token in the body (or the v1 Bearer header)."""

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pymongo.asynchronous.database import AsyncDatabase
from starlette.requests import ClientDisconnect

from amigo_api.core.auth import CurrentPrincipal, Principal, require
from amigo_api.core.db import ClustersDep, Document
from amigo_api.core.openapi import error_responses
from amigo_api.core.pagination import ContinuationToken
from amigo_api.core.ratelimit import anonymous_rate_limit, rate_limit
from amigo_api.core.request_guard import streamed_body
from amigo_api.core.routing import domain_router
from amigo_api.llm_analytics import (
    capture,
    dataset_routes,  # noqa: F401  (registers its routes)
    evaluation_routes,  # noqa: F401  (registers its routes)
    service,
)
from amigo_api.llm_analytics import schemas as s
from amigo_api.llm_analytics.auth import EnvironmentCaller, environment_access
from amigo_api.llm_analytics.capture import IncomingBody
from amigo_api.llm_analytics.capture_limits import AI_LIMITS, BATCH_LIMITS, CaptureLimits
from amigo_api.llm_analytics.errors import FieldError
from amigo_api.llm_analytics.routes import ENVIRONMENT_ROUTES, environment_route

router = domain_router("/v1/{organization}/llm_analytics", slash_optional=True, tags=["LLM analytics"])
EnvironmentCreator = Annotated[Principal, Depends(require("LLMAnalytics:CreateEnvironment"))]
EnvironmentReader = Annotated[Principal, Depends(require("LLMAnalytics:GetEnvironment"))]


def _infra(request: Request) -> AsyncDatabase[Document]:
    infra: AsyncDatabase[Document] = request.app.state.clusters.infra
    return infra


Infra = Annotated[AsyncDatabase[Document], Depends(_infra)]


@router.post("/environments/", operation_id="create-llm-analytics-environment", status_code=status.HTTP_201_CREATED,
             summary="Create an LLM analytics environment", response_model=s.Environment,
             dependencies=[rate_limit(10)])
async def create_environment(body: s.CreateEnvironmentRequest, principal: EnvironmentCreator, infra: Infra
                             ) -> s.Environment:
    """An environment (PostHog's project) of this organization: a globally unique integer `id` for
    `/api/environments/{id}/...` and a public project token (`api_token`, `phc_...`) for capture."""
    return await service.create_environment(infra, principal.org_id, principal.user_info, body.name)


@router.get("/environments/", operation_id="get-llm-analytics-environments", summary="List LLM analytics environments",
            response_model=s.ListEnvironmentsResponse, dependencies=[rate_limit(50)])
async def list_environments(principal: EnvironmentReader, infra: Infra,
                            limit: Annotated[int, Query(ge=1, le=100)] = 50,
                            continuation_token: ContinuationToken = 0) -> s.ListEnvironmentsResponse:
    return await service.list_environments(infra, principal.org_id, limit, continuation_token)


@router.post("/api_keys/", operation_id="create-llm-analytics-personal-api-key", status_code=status.HTTP_201_CREATED,
             summary="Create a personal API key", response_model=s.CreatedPersonalApiKey, dependencies=[rate_limit(10)])
async def create_personal_api_key(body: s.CreatePersonalApiKeyRequest, principal: CurrentPrincipal, infra: Infra
                                  ) -> s.CreatedPersonalApiKey:
    """A key (`phx_...`) of the caller's own for `/api/environments/...`, shown only in this answer (only its
    hash is stored). It acts as its user: it needs the route's scope and the user's grant."""
    return await service.create_personal_key(infra, principal, body)


@router.get("/api_keys/", operation_id="get-llm-analytics-personal-api-keys", summary="List your personal API keys",
            response_model=s.ListPersonalApiKeysResponse, dependencies=[rate_limit(50)])
async def list_personal_api_keys(principal: CurrentPrincipal, infra: Infra) -> s.ListPersonalApiKeysResponse:
    return await service.list_personal_keys(infra, principal)


@router.delete("/api_keys/{key_id}", operation_id="delete-llm-analytics-personal-api-key",
               status_code=status.HTTP_204_NO_CONTENT, response_class=Response, summary="Delete a personal API key",
               dependencies=[rate_limit(20)], responses=error_responses(r404="The key does not exist."))
async def delete_personal_api_key(key_id: Annotated[str, Path(max_length=64)], principal: CurrentPrincipal,
                                  infra: Infra) -> Response:
    await service.delete_personal_key(infra, principal, key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# PostHog's API: one router, mounted under /api/environments and /api/projects -----------------------------

AnyCredential = Annotated[EnvironmentCaller, Depends(environment_access(None))]


@environment_route("/", methods=["GET"], operation_id="get-environment", summary="Retrieve an environment",
                   response_model=s.Environment, dependencies=[rate_limit(120)])
async def get_environment(caller: AnyCredential) -> s.Environment:
    """Any valid credential of the environment: a member's token, or a personal API key of its organization."""
    return service.environment_view(caller.environment)


def _environment_router(prefix: str, documented: bool) -> APIRouter:
    mounted = domain_router(prefix, slash_optional=True, tags=["LLM analytics (PostHog API)"],
                            include_in_schema=documented)
    for path, endpoint, declaration in ENVIRONMENT_ROUTES:
        mounted.add_api_route(path, endpoint, **declaration)
    return mounted


# PostHog's legacy dual route: the same routes under /api/projects, documented once.
environments_router = _environment_router("/api/environments/{environment_id}", documented=True)
projects_router = _environment_router("/api/projects/{environment_id}", documented=False)


# Capture --------------------------------------------------------------------------------------------------

capture_router = domain_router("", slash_optional=True, tags=["LLM analytics capture"])


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _chunks(request: Request) -> AsyncIterator[bytes]:
    """The body as it arrives. A client that leaves before it is whole gets a 400 it will not read (and nothing of
    the request is stored: events are written only once the body has been read)."""
    try:
        async for chunk in request.stream():
            yield chunk
    except ClientDisconnect as exc:
        raise FieldError("The client closed the connection before sending the whole body.", None,
                         "parse_error") from exc


def _incoming(request: Request, compression: str | None) -> IncomingBody:
    return IncomingBody(_chunks(request), request.headers.get("content-encoding", ""), compression,
                        request.headers.get("content-length"))


def _v0_endpoint(limits: CaptureLimits) -> Callable[..., Awaitable[JSONResponse]]:
    async def capture_events(request: Request, clusters: ClustersDep, compression: str | None = None
                             ) -> JSONResponse:
        """PostHog's capture v0: `{api_key, batch: [...]}`, one event, or an array of events, as JSON, gzip or
        deflate (docs/llm-analytics.md). The body is read as it streams, within the limits documented as
        `x-capture-limits`."""
        await capture.capture_v0(clusters, _incoming(request, compression), limits)
        return JSONResponse({"status": "Ok"})

    return capture_events


def _declared(limits: CaptureLimits) -> dict[str, Any]:
    """The body is streamed (the request guard leaves it alone) and bounded by the capture code itself."""
    return {**streamed_body(limits.body_bytes), "x-capture-limits": dataclasses.asdict(limits)}


CAPTURE_LIMIT = [anonymous_rate_limit(6000, _client)]
# PostHog's v0 paths, and their limits.
V0_PATHS = {"/batch/": BATCH_LIMITS, "/capture/": BATCH_LIMITS, "/e/": BATCH_LIMITS, "/i/v0/e/": BATCH_LIMITS,
            "/i/v0/ai/batch/": AI_LIMITS}

for v0_path, v0_limits in V0_PATHS.items():
    capture_router.add_api_route(
        v0_path, _v0_endpoint(v0_limits), methods=["POST"], dependencies=CAPTURE_LIMIT,
        openapi_extra=_declared(v0_limits), operation_id="capture-" + v0_path.strip("/").replace("/", "-"),
        summary=f"Capture events ({v0_path})")


@capture_router.post("/i/v1/analytics/events", operation_id="capture-v1", summary="Capture events (capture v1)",
                     dependencies=CAPTURE_LIMIT, openapi_extra=_declared(BATCH_LIMITS))
async def capture_v1(request: Request, clusters: ClustersDep, compression: str | None = None) -> JSONResponse:
    """Bearer project token, checked before the body is read; per-event results keyed by uuid (`ok`, or `drop`
    with the reason, an event over a limit included)."""
    token = request.headers.get("authorization", "").partition(" ")[2].strip()
    return JSONResponse(await capture.capture_v1(clusters, token, _incoming(request, compression), BATCH_LIMITS))
