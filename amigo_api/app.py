"""create_app(settings) -> FastAPI: routers, middleware, error handlers, lifespan."""

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from amigo_api import __version__, domains
from amigo_api.admin.prompt_logs import router as prompt_logs_router
from amigo_api.admin.prompt_logs import service as prompt_logs
from amigo_api.admin.prompt_logs.repository import PromptLogRepository
from amigo_api.admin.sql import router as sql_router
from amigo_api.admin.sql import service as sql
from amigo_api.admin.sql.engine import SnapshotCache
from amigo_api.agents import router as agents_router
from amigo_api.api_keys import router as api_keys_router
from amigo_api.auth.service import PrincipalLoader
from amigo_api.bootstrap import initial_credentials
from amigo_api.core.auth import PrincipalCache, security_schemes
from amigo_api.core.blobs import BlobStore
from amigo_api.core.crypto import SecretBox
from amigo_api.core.db import Clusters
from amigo_api.core.errors import install_error_handlers
from amigo_api.core.maintenance import MaintenanceMiddleware, MaintenanceSwitch
from amigo_api.core.observability import AccessLog, RequestContextMiddleware, configure_logging
from amigo_api.core.outbound import OutboundPolicy
from amigo_api.core.ratelimit import RateLimiter
from amigo_api.core.request_guard import RequestGuardMiddleware
from amigo_api.core.routing import dispatch_by_section
from amigo_api.core.security import TokenService
from amigo_api.core.startup import connect_temporal, wait_for_clusters
from amigo_api.hog.pool import HogPool
from amigo_api.llm_analytics import evaluations as llm_evaluations
from amigo_api.llm_analytics import router as llm_router
from amigo_api.llm_analytics.errors import API_PREFIXES, PostHogErrors
from amigo_api.llm_analytics.repository import ensure_infra_indexes
from amigo_api.models import router as models_router
from amigo_api.models.service import ModelRegistry
from amigo_api.organizations import router as organizations_router
from amigo_api.organizations.service import OrganizationDirectory
from amigo_api.roles import router as roles_router
from amigo_api.roles import service as roles_service
from amigo_api.services import router as services_router
from amigo_api.settings import Settings, get_settings
from amigo_api.simulations import router as simulations_router
from amigo_api.tools import router as tools_router
from amigo_api.tools.repo import router as repo_router
from amigo_api.tools.repo.git_http import GitBackend
from amigo_api.tools.repo.storage import RepoStore
from amigo_api.tools.scaffold import ScaffoldRelease
from amigo_api.users import router as users_router
from amigo_api.workflows import worker as temporal

log = structlog.get_logger(__name__)
UPKEEP_SECONDS = 60
# Sign-in (`/user/signin_with_api_key`) comes before the users' `/user/{user_id}` routes that would match it.
ROUTERS = [organizations_router.router, api_keys_router.router, users_router.router, roles_router.router,
           agents_router.router, services_router.router, simulations_router.router, models_router.router,
           prompt_logs_router.router, sql_router.router, repo_router.router, tools_router.router,
           llm_router.router, llm_router.environments_router, llm_router.projects_router,
           llm_router.capture_router]


async def _maintain(app: FastAPI) -> None:
    """Periodic upkeep: signing-key rotation, and removing blobs (prompt-log bodies, SQL results) past their
    retention."""
    settings: Settings = app.state.settings
    while True:
        await asyncio.sleep(UPKEEP_SECONDS)
        try:
            await app.state.tokens.maintain()
        except Exception as exc:  # keep serving with the keys already loaded
            log.warning("signing_key_maintenance_failed", error=str(exc))
        try:
            removed = await asyncio.to_thread(prompt_logs.sweep_expired_bodies, app.state.blobs,
                                              settings.prompt_log_retention_days)
            removed += await asyncio.to_thread(sql.sweep_expired_results, app.state.blobs)
            if removed:
                log.info("expired_blobs_removed", days=removed)
        except OSError as exc:
            log.warning("blob_sweep_failed", error=str(exc))


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    clusters = Clusters(settings)
    app.state.clusters = clusters
    await wait_for_clusters(clusters, settings.startup_wait_seconds)
    for name in clusters.uris:
        await domains.ensure_indexes(clusters.database(name))
        await roles_service.grant_added_permissions(clusters.database(name))
        if compiled := await llm_evaluations.compile_stored_evaluations(clusters.database(name)):
            log.info("evaluations_compiled", cluster=name, count=compiled)
        await PromptLogRepository.ensure_retention(clusters.database(name),
                                                   settings.prompt_log_retention_days * 24 * 3600)
    await ensure_infra_indexes(clusters.infra)
    app.state.tokens = TokenService(settings, clusters.infra)
    await app.state.tokens.start()
    app.state.maintenance = MaintenanceSwitch(clusters.infra, settings.maintenance_poll_seconds)
    await app.state.maintenance.start()
    await initial_credentials(settings, clusters.infra)
    app.state.temporal = None
    if settings.temporal_required:
        app.state.temporal = await connect_temporal(settings)
    key_task = asyncio.create_task(_maintain(app))
    # What startup built lives as long as the process: keep it out of the garbage collector's full passes,
    # which would otherwise stall every request now and then walking it.
    gc.freeze()
    log.info("api_started", version=__version__, clusters=sorted(clusters.uris))
    try:
        yield
    finally:
        key_task.cancel()
        await app.state.hog_pool.close()
        await app.state.maintenance.stop()
        await clusters.close()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_json)
    # Swagger UI and ReDoc served from the package's own copies of their assets: the docs work offline.
    app = FastAPIOffline(title="Amigo API", version=__version__, lifespan=lifespan,
                         description="Open, self-hostable implementation of the classic Amigo REST API.",
                         telemetry={"tracing": settings.opentelemetry, "metrics": settings.opentelemetry,
                                    "logs": settings.opentelemetry})
    app.state.settings = settings
    app.state.secret_box = SecretBox(settings.secret_key)
    app.state.rate_limiter = RateLimiter(settings)
    app.state.principal_cache = PrincipalCache(settings.principal_cache_seconds)
    app.state.principals = PrincipalLoader(OrganizationDirectory())
    app.state.model_registry = ModelRegistry.load(settings.models_file)
    app.state.repo_store = RepoStore(settings.git_root)
    app.state.repo_store.install_hooks()
    app.state.git_backend = GitBackend(app.state.repo_store, settings.git_protected_branches,
                                       settings.git_timeout_seconds)
    app.state.blobs = BlobStore(settings.blob_root)
    app.state.tool_scaffold = ScaffoldRelease.load()
    app.state.sql_snapshots = SnapshotCache(settings)
    app.state.outbound = OutboundPolicy.from_settings(settings)
    app.state.hog_pool = HogPool(settings.hog_processes, settings.hog_processes_per_organization,
                                 settings.hog_memory_mb)
    install_error_handlers(app, shapes=[(prefix, PostHogErrors()) for prefix in API_PREFIXES])
    for router in ROUTERS:
        app.router.routes.extend(router.routes)
    _add_operational_routes(app)
    _document_security_schemes(app)
    dispatch_by_section(app)
    app.add_middleware(RequestGuardMiddleware, routes=[route for router in ROUTERS for route in router.routes],
                       default_limit=settings.max_body_bytes)
    app.add_middleware(MaintenanceMiddleware)
    app.add_middleware(RequestContextMiddleware, access_log=AccessLog(settings.log_level, settings.log_json,
                                                                      settings.access_log_sample_rate))
    return app


def _document_security_schemes(app: FastAPI) -> None:
    """Authenticators read credentials from the headers rather than through FastAPI's security dependencies,
    so the schemes their routes name are added to the document's components here."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        schema.setdefault("components", {}).setdefault("securitySchemes", {}).update(security_schemes())
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _add_operational_routes(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    async def index() -> dict[str, str]:
        return {"name": app.title, "version": __version__, "docs": "/docs", "redoc": "/redoc",
                "openapi": "/openapi.json"}

    @app.get("/healthz", include_in_schema=False)
    async def healthz(request: Request) -> JSONResponse:
        checks = await _health_checks(request.app)
        healthy = all(checks.values())
        return JSONResponse({"status": "ok" if healthy else "unavailable", "checks": checks},
                            200 if healthy else 503)

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        checks = await _health_checks(request.app)
        client = request.app.state.temporal
        if client is not None and checks.get("worker"):
            checks["workflow_probe"] = await _check(temporal.probe(client, request.app.state.settings))
        ready = all(checks.values())
        return JSONResponse({"status": "ready" if ready else "unavailable", "checks": checks},
                            200 if ready else 503)

    @app.get("/.well-known/jwks.json", include_in_schema=False)
    async def jwks(request: Request) -> dict[str, Any]:
        keys: dict[str, Any] = request.app.state.tokens.jwks()
        return keys

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def _check(awaitable: Any) -> bool:
    try:
        return bool(await asyncio.wait_for(awaitable, timeout=5))
    except Exception:
        return False


async def _health_checks(app: FastAPI) -> dict[str, bool]:
    clusters: Clusters = app.state.clusters
    checks = {f"mongo:{name}": await _check(clusters.client(name).admin.command("ping")) for name in clusters.uris}
    client = app.state.temporal
    if client is not None:
        checks["temporal"] = await _check(client.service_client.check_health())
        checks["worker"] = await _check(temporal.has_pollers(client, app.state.settings))
    return checks
