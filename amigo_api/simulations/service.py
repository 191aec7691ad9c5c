"""Rules for simulation unit tests: unique live names, a real service version set underneath (which then cannot
be deleted, nor its service deactivated), soft deletion.

Personas, scenarios and metrics have no endpoints here yet, so their IDs are recorded as given."""

from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from amigo_api.core.auth import Principal
from amigo_api.core.clock import utcnow
from amigo_api.core.db import Document, OrgDb, in_transaction
from amigo_api.core.errors import Conflict, InvalidRequest, NotFound
from amigo_api.core.ids import new_id
from amigo_api.core.pagination import and_all, next_token, parse_sort, tag_filters, tags_to_list, tags_to_strings
from amigo_api.core.references import register_usage, usage_reason
from amigo_api.core.repository import with_id
from amigo_api.core.sql_tables import (
    BOOLEAN,
    INTEGER,
    JSON,
    TEXT,
    TIMESTAMP,
    USER_INFO,
    Column,
    SqlTable,
    register_table,
)
from amigo_api.services.service import SERVICE_USAGE, VERSION_SET_USAGE, claim_version_set
from amigo_api.simulations import schemas as s
from amigo_api.simulations.repository import SimulationUnitTestRepository

UNIT_TEST_FIELDS = {"simulation_unit_test_id": "_id", "service_id": "service_id", "tags": "tag_strings"}
UNIT_TEST_SORT = {"updated_at": "updated_at"}
UNIT_TEST_USAGE = "simulation unit test"


async def ensure_indexes(db: Any) -> None:
    await SimulationUnitTestRepository.ensure_indexes(db)


async def create_unit_test(org: OrgDb, principal: Principal, body: s.CreateSimulationUnitTestRequest
                           ) -> s.CreateSimulationUnitTestResponse:
    principal.require("Simulation:CreateSimulationUnitTest",
                      {"service_id": body.service_id, "tags": tags_to_strings(body.tags)})
    now = utcnow()
    doc = {**body.model_dump(exclude={"tags"}), "_id": new_id(), "is_deleted": False,
           "tags": tags_to_list(body.tags), "tag_strings": tags_to_strings(body.tags),
           "metric_ids": sorted({c.metric_id for c in body.success_criterions}),
           "creator": principal.user_info, "updated_by": principal.user_info, "created_at": now, "updated_at": now}

    async def write(session: AsyncClientSession) -> None:
        await claim_version_set(org, session, body.service_id, body.service_version_set_name)
        await SimulationUnitTestRepository(org, session).insert_one(doc)

    try:
        await in_transaction(org, write)
    except DuplicateKeyError as exc:
        raise Conflict(f"A unit test named {body.name!r} already exists.", error_code="unit_test_exists") from exc
    return s.CreateSimulationUnitTestResponse(simulation_unit_test_id=doc["_id"])


def _creator_clause(creators: list[str]) -> Document | None:
    if not creators:
        return None
    pairs = [c.split(",", 1) for c in creators]
    return {"$or": [{"creator.org_id": p[0], "creator.user_id": p[-1]} for p in pairs]}


async def _filter_values(repository: SimulationUnitTestRepository, filters: Document
                         ) -> s.SimulationUnitTestFilterValues:
    async def values(field: str) -> list[str]:
        return sorted(str(v) for v in await repository.distinct(field, filters))

    creators = {(c["org_id"], c["user_id"]) for c in await repository.distinct("creator", filters)}
    tag_keys = {tag.split(":", 1)[0] for tag in await values("tag_strings")}
    return s.SimulationUnitTestFilterValues(
        creators=[s.UserInfo(org_id=o, user_id=u) for o, u in sorted(creators)], tags=sorted(tag_keys),
        service_ids=await values("service_id"), persona_ids=await values("persona_id"),
        scenario_ids=await values("scenario_id"), metric_ids=await values("metric_ids"))


async def list_unit_tests(org: OrgDb, principal: Principal, *, ids: list[str], is_deleted: bool | None,
                          service_ids: list[str], persona_ids: list[str], scenario_ids: list[str],
                          metric_ids: list[str], creators: list[str], tags: list[str], sort_by: list[str],
                          limit: int, continuation_token: int) -> s.GetSimulationUnitTestsResponse:
    sort = parse_sort(sort_by, UNIT_TEST_SORT)
    filters = and_all(
        *({field: {"$in": values}} for field, values in (
            ("_id", ids), ("service_id", service_ids), ("persona_id", persona_ids), ("scenario_id", scenario_ids),
            ("metric_ids", metric_ids)) if values),
        None if is_deleted is None else {"is_deleted": is_deleted}, _creator_clause(creators), *tag_filters(tags))
    repository = SimulationUnitTestRepository(org)
    query = and_all(filters, principal.visible("Simulation:GetSimulationUnitTest", UNIT_TEST_FIELDS))
    docs, has_more = await repository.find_page(query, sort=sort, skip=continuation_token, limit=limit)
    return s.GetSimulationUnitTestsResponse(
        simulation_unit_tests=[s.SimulationUnitTestInstance.model_validate(with_id(d)) for d in docs],
        has_more=has_more, continuation_token=next_token(continuation_token, len(docs), has_more),
        filter_values=await _filter_values(repository, filters) if continuation_token == 0 else None)


async def delete_unit_test(org: OrgDb, principal: Principal, unit_test_id: str) -> None:
    missing = NotFound(f"The simulation unit test {unit_test_id} does not exist or is deleted.",
                       error_code="unit_test_not_found")
    doc = await SimulationUnitTestRepository(org).live(unit_test_id)
    if doc is None:
        raise missing
    principal.require("Simulation:DeleteSimulationUnitTest", {
        "simulation_unit_test_id": unit_test_id, "service_id": doc["service_id"], "tags": doc["tag_strings"]})

    async def write(session: AsyncClientSession) -> None:
        deleted = await SimulationUnitTestRepository(org, session).update_one(
            {"_id": unit_test_id, "is_deleted": False},
            {"$set": {"is_deleted": True, "updated_by": principal.user_info, "updated_at": utcnow()}})
        if not deleted:
            raise missing
        reason = await usage_reason(UNIT_TEST_USAGE, org, session, unit_test_id)
        if reason is not None:
            raise InvalidRequest(reason, error_code="unit_test_in_use")

    await in_transaction(org, write)


async def _unit_tests_on(org: OrgDb, session: AsyncClientSession | None, query: Document, what: str) -> str | None:
    names = await SimulationUnitTestRepository(org, session).distinct("name", {**query, "is_deleted": False})
    if not names:
        return None
    return f"The {what} is used by simulation unit test(s) {', '.join(sorted(map(repr, names)))}; delete them first."


async def _service_in_use(org: OrgDb, session: AsyncClientSession | None, key: tuple[str, ...]) -> str | None:
    return await _unit_tests_on(org, session, {"service_id": key[0]}, "service")


async def _version_set_in_use(org: OrgDb, session: AsyncClientSession | None, key: tuple[str, ...]) -> str | None:
    service_id, set_name = key
    return await _unit_tests_on(org, session, {"service_id": service_id, "service_version_set_name": set_name},
                                f"version set {set_name!r}")


register_usage(SERVICE_USAGE, _service_in_use)
register_usage(VERSION_SET_USAGE, _version_set_in_use)


register_table(SqlTable("simulation_unit_tests", SimulationUnitTestRepository.collection_name, {
    "simulation_unit_test_id": Column(TEXT, "_id"), "name": TEXT, "description": TEXT, "service_id": TEXT,
    "service_version_set_name": TEXT, "persona_id": TEXT, "scenario_id": TEXT, "max_interactions": INTEGER,
    "success_criterions": JSON, "is_deleted": BOOLEAN, "tags": JSON, "creator": USER_INFO, "created_at": TIMESTAMP,
    "updated_at": TIMESTAMP}))
