"""The shape the code keeps: each endpoint's rules declared once (the enforced limit is the documented and the
contract's one; every `/v1` route authenticates unless it is documented as anonymous), process state on the
app, domains importing each other only through services, and modules a reader can take in."""

import ast
import json
import re
from pathlib import Path
from typing import Any

import httpx
from fastapi.routing import APIRoute

from amigo_api.app import ROUTERS, create_app
from amigo_api.core.routing import DeclaredRoute, enforced_limits, is_authenticated
from amigo_api.settings import Settings
from tests.conftest import Caller, make_settings

PACKAGE = Path(__file__).resolve().parent.parent / "amigo_api"
CONTRACT = Path(__file__).resolve().parent / "data" / "amigo-openapi-subset.json"
# Open to callers without a token: documented in docs/architecture.md. PostHog's capture endpoints
# (`capture-*`) take the project token in the body instead (docs/llm-analytics.md).
ANONYMOUS = {"get-organization", "sign-in-with-api-key", "get-sql-query-result"}
CAPTURE = "capture-"
# Outside `/v1`: PostHog's API and capture paths (docs/llm-analytics.md).
POSTHOG_PATHS = ("/api/environments/", "/api/projects/", "/batch", "/capture", "/e", "/i/")
# The contract gives get-organization no rate limit.
UNLIMITED = {"get-organization"}
MAX_MODULE_LINES = 350


def _routes() -> list[APIRoute]:
    return [route for router in ROUTERS for route in router.routes if isinstance(route, APIRoute)]


def _documented_limit(responses: dict[Any, Any]) -> int | None:
    described = responses.get(429) or responses.get("429")
    if described is None:
        return None
    found = re.search(r"rate limit of (\d+) requests? per minute", described["description"])
    assert found, described
    return int(found.group(1))


def test_every_route_documents_the_limit_its_dependency_enforces() -> None:
    routes = _routes()
    assert len(routes) > 40
    for route in routes:
        assert isinstance(route, DeclaredRoute), route.operation_id
        enforced = enforced_limits(route)
        documented = _documented_limit(route.responses)
        if route.operation_id in UNLIMITED:
            assert not enforced and documented is None, route.operation_id
            continue
        assert len(enforced) == 1, (route.operation_id, enforced)
        assert documented == next(iter(enforced)), route.operation_id


def test_enforced_limits_are_the_contracts() -> None:
    contract = json.loads(CONTRACT.read_text())
    limits = {operation["operationId"]: _documented_limit(operation["responses"])
              for methods in contract["paths"].values() for operation in methods.values()}
    checked = 0
    for route in _routes():
        if limits.get(route.operation_id) is not None:
            assert enforced_limits(route) == {limits[route.operation_id]}, route.operation_id
            checked += 1
    assert checked >= 30


def test_every_v1_route_authenticates_unless_documented_anonymous() -> None:
    for route in _routes():
        assert route.path.startswith(("/v1/", *POSTHOG_PATHS)), route.path
        if route.operation_id in ANONYMOUS or route.operation_id.startswith(CAPTURE):
            assert not is_authenticated(route.dependant), route.operation_id
            continue
        assert is_authenticated(route.dependant), route.operation_id
        assert {401, 403} <= set(route.responses), route.operation_id


async def test_documented_429_is_what_a_caller_gets(mongo_server: str, secret_key: str, admin: Caller) -> None:
    """get-models, at the contract's own numbers (scale 1): the documented limit stops the 21st request."""
    strict = create_app(make_settings(mongo_server, secret_key, rate_limit_scale=1.0))
    async with strict.router.lifespan_context(strict), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=strict), base_url="http://testserver") as http:
        document = (await http.get("/openapi.json")).json()
        limit = _documented_limit(document["paths"]["/v1/{organization}/admin/get_models/"]["get"]["responses"])
        assert limit == 20
        statuses = [(await http.get(f"/v1/{admin.org_id}/admin/get_models/", headers=admin.headers)).status_code
                    for _ in range(limit + 1)]
    assert statuses == [200] * limit + [429]


async def test_two_apps_in_one_process_keep_their_own_caches(settings: Settings, admin: Caller) -> None:
    first, second = create_app(settings), create_app(settings)
    for name in ("principals", "principal_cache", "rate_limiter", "sql_snapshots", "model_registry"):
        assert getattr(first.state, name) is not getattr(second.state, name), name
    async with first.router.lifespan_context(first):
        transport = httpx.ASGITransport(app=first)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            answer = await http.get(f"/v1/{admin.org_id}/user/", headers=admin.headers)
        assert answer.status_code == 200
        assert await first.state.principals.organization_exists(await first.state.clusters.org_db(admin.org_id))
    assert [org_id for org_id, _ in first.state.principals.roles] == [admin.org_id]
    assert first.state.principals.organizations.known == {admin.org_id}
    assert second.state.principals.roles == {}
    assert second.state.principals.organizations.known == set()


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_keeps_a_cache_of_its_own() -> None:
    """Mutable module-level state is only the import-time registries domains join (core/references.py,
    core/sql_tables.py, the authenticators in core/auth.py); everything else lives on `app.state`."""
    registries = {"core/references.py", "core/sql_tables.py", "core/auth.py"}
    mutable_calls = {"set", "dict", "list", "defaultdict", "OrderedDict", "CapacityLimiter", "Lock"}
    offenders = []
    for path in _modules():
        relative = path.relative_to(PACKAGE).as_posix()
        for node in ast.parse(path.read_text()).body:
            value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
            mutable = isinstance(value, ast.Dict | ast.Set | ast.List | ast.DictComp | ast.SetComp) or (
                isinstance(value, ast.Call) and getattr(value.func, "id", getattr(value.func, "attr", ""))
                in mutable_calls)
            if mutable and relative not in registries and not _is_constant_table(node):
                offenders.append(f"{relative}:{node.lineno}")
    assert offenders == []


def _is_constant_table(node: ast.stmt) -> bool:
    """UPPER_CASE names hold tables that are never changed (field maps, route lists)."""
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]  # type: ignore[attr-defined]
    return all(isinstance(t, ast.Name) and t.id.isupper() for t in targets)


def test_domains_use_each_other_only_through_services() -> None:
    """A domain may import another's service (or schemas, auth aliases, stored shapes' owners' services),
    never its router or repository."""
    offenders = []
    for path in _modules():
        parts = path.relative_to(PACKAGE).parts
        if len(parts) < 2 or parts[0] == "core":
            continue
        domain = ".".join(parts[:2]) if parts[0] in ("admin", "tools") and len(parts) > 2 else parts[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("amigo_api."):
                module = node.module
                names = [module] + [f"{module}.{alias.name}" for alias in node.names]
                for name in names:
                    if (re.search(r"\.(router|repository)$", name) and not name.startswith(f"amigo_api.{domain}")
                            and not name.startswith("amigo_api.core.")):
                        offenders.append(f"{'/'.join(parts)} imports {name}")
    assert offenders == []


def test_modules_stay_short() -> None:
    long = {path.relative_to(PACKAGE).as_posix(): lines for path in _modules()
            if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long == {}


def test_fastapi_opentelemetry_hooks_follow_the_setting(settings: Settings) -> None:
    off = create_app(settings)
    on = create_app(settings.model_copy(update={"opentelemetry": True}))
    assert not any(off._telemetry[kind] for kind in ("tracing", "metrics", "logs"))  # type: ignore[attr-defined]
    assert all(on._telemetry[kind] for kind in ("tracing", "metrics", "logs"))  # type: ignore[attr-defined]
