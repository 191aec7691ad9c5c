"""Rules for services: one active service per name, the automatic `edge` and `release` version sets,
version sets that pin existing versions and supported models, and activation guarded by what it uses."""

import re
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from amigo_api.agents.service import AGENT, STATE_MACHINE, DefinitionKind, claim_for_use, has_version
from amigo_api.core.auth import Principal
from amigo_api.core.clock import utcnow
from amigo_api.core.db import Document, OrgDb, in_transaction
from amigo_api.core.errors import Conflict, InvalidRequest, NotFound
from amigo_api.core.ids import new_id
from amigo_api.core.pagination import and_all, next_token, parse_sort, tag_filters, tags_to_list, tags_to_strings
from amigo_api.core.references import UsageCheck, register_usage, usage_reason
from amigo_api.core.repository import with_id
from amigo_api.core.sql_tables import (
    BOOLEAN,
    JSON,
    TEXT,
    TEXT_LIST,
    TIMESTAMP,
    USER_INFO,
    Column,
    SqlTable,
    register_table,
)
from amigo_api.models.service import ModelRegistry
from amigo_api.services import schemas as s
from amigo_api.services.repository import ServiceRepository

EDGE = "edge"
RELEASE = "release"
LATEST_EVERYTHING: Document = {"agent_version_number": None, "service_hierarchical_state_machine_version_number": None,
                               "llm_model_preferences": {}}
SERVICE_FIELDS = {"service_id": "_id", "service_name": "name", "tags": "tag_strings", "is_active": "is_active"}
SERVICE_SORT = {"name": "name", "is_active": "is_active"}
# A usage kind other domains register checks for: "is this service (or one of its version sets) in use?"
VERSION_SET_NAME = re.compile(s.VERSION_SET_NAME_PATTERN)
SERVICE_USAGE = "service"
VERSION_SET_USAGE = "service version set"


async def ensure_indexes(db: Any) -> None:
    await ServiceRepository.ensure_indexes(db)


def service_attributes(doc: Document) -> dict[str, Any]:
    return {"service_id": doc["_id"], "service_name": doc["name"], "tags": doc["tag_strings"],
            "is_active": doc["is_active"]}


def _not_found(service_id: str) -> NotFound:
    return NotFound(f"The service {service_id} does not exist.", error_code="service_not_found")


def _no_version_set(service_id: str, set_name: str) -> NotFound:
    return NotFound(f"The service {service_id} has no version set {set_name!r}.", error_code="version_set_not_found")


def _instance(doc: Document) -> s.ServiceInstance:
    return s.ServiceInstance.model_validate(with_id(doc))


async def _authorized_service(org: OrgDb, principal: Principal, service_id: str, permission: str,
                              **extra: str) -> Document:
    doc = await ServiceRepository(org).by_id(service_id)
    if doc is None:
        raise _not_found(service_id)
    principal.require(permission, {**service_attributes(doc), **extra})
    return doc


# Checks shared by create, update and version-set upserts -------------------------------------------

async def _claim_components(org: OrgDb, session: AsyncClientSession, agent_id: str, machine_id: str) -> None:
    await claim_for_use(org, session, AGENT, agent_id)
    await claim_for_use(org, session, STATE_MACHINE, machine_id)


async def _check_pinned(org: OrgDb, session: AsyncClientSession, kind: DefinitionKind, definition_id: str,
                        set_name: str, number: int | None) -> None:
    if number is not None and not await has_version(org, kind, definition_id, number, session):
        raise InvalidRequest(f"Version set {set_name!r} pins {kind.label} version {number}, which {definition_id} "
                             "does not have.", error_code="version_not_in_service")


async def _check_version_sets(org: OrgDb, session: AsyncClientSession, agent_id: str, machine_id: str,
                              version_sets: dict[str, Document]) -> None:
    for name, version_set in version_sets.items():
        await _check_pinned(org, session, AGENT, agent_id, name, version_set["agent_version_number"])
        await _check_pinned(org, session, STATE_MACHINE, machine_id, name,
                            version_set["service_hierarchical_state_machine_version_number"])


def _model_names(version_sets: dict[str, Document]) -> list[str]:
    return [config["llm_name"] for vs in version_sets.values() for config in vs["llm_model_preferences"].values()]


def _duplicate_active_name(name: str) -> Conflict:
    return Conflict(f"An active service named {name!r} already exists.", error_code="active_service_exists")


# Create and list ------------------------------------------------------------------------------------

async def create_service(org: OrgDb, principal: Principal, registry: ModelRegistry, body: s.CreateServiceRequest
                         ) -> s.CreateServiceResponse:
    attributes = {"service_name": body.name, "tags": tags_to_strings(body.tags), "is_active": body.is_active}
    principal.require("Service:CreateService", attributes)
    for set_name in (EDGE, RELEASE):
        principal.require("Service:CreateVersionSet", {**attributes, "version_set_name": set_name})
    release = body.release_version_set.model_dump() if body.release_version_set else dict(LATEST_EVERYTHING)
    registry.check_preferences(release["llm_model_preferences"])
    now = utcnow()
    service_id = new_id()
    doc = {"_id": service_id, "name": body.name, "description": body.description, "is_active": body.is_active,
           "agent_id": body.agent_id,
           "service_hierarchical_state_machine_id": body.service_hierarchical_state_machine_id,
           "version_sets": {EDGE: dict(LATEST_EVERYTHING), RELEASE: release}, "keyterms": body.keyterms,
           "tags": tags_to_list(body.tags), "tag_strings": tags_to_strings(body.tags),
           "creator": principal.user_info, "updated_by": principal.user_info, "created_at": now, "updated_at": now}

    async def write(session: AsyncClientSession) -> None:
        await _claim_components(org, session, body.agent_id, body.service_hierarchical_state_machine_id)
        await _check_version_sets(org, session, body.agent_id, body.service_hierarchical_state_machine_id,
                                  {RELEASE: release})
        await ServiceRepository(org, session).insert_one(doc)

    try:
        await in_transaction(org, write)
    except DuplicateKeyError as exc:
        raise _duplicate_active_name(body.name) from exc
    return s.CreateServiceResponse(id=service_id)


async def list_services(org: OrgDb, principal: Principal, *, ids: list[str], is_active: bool | None,
                        tags: list[str], sort_by: list[str], limit: int, continuation_token: int
                        ) -> s.GetServicesResponse:
    sort = parse_sort(sort_by, SERVICE_SORT)
    filters = and_all({"_id": {"$in": ids}} if ids else None,
                      None if is_active is None else {"is_active": is_active}, *tag_filters(tags))
    repository = ServiceRepository(org)
    query = and_all(filters, principal.visible("Service:GetService", SERVICE_FIELDS))
    docs, has_more = await repository.find_page(query, sort=sort, skip=continuation_token, limit=limit)
    filter_values = None
    if continuation_token == 0:
        filter_values = s.ServiceFilterValues(tags=sorted(await repository.distinct("tag_strings", filters)))
    return s.GetServicesResponse(services=[_instance(d) for d in docs], has_more=has_more,
                                 continuation_token=next_token(continuation_token, len(docs), has_more),
                                 filter_values=filter_values)


# Version sets ---------------------------------------------------------------------------------------

async def upsert_version_set(org: OrgDb, principal: Principal, registry: ModelRegistry, service_id: str,
                             set_name: str, version_set: s.VersionSet) -> None:
    if set_name == EDGE:
        raise InvalidRequest("The `edge` version set always uses the latest versions and cannot be changed.",
                             error_code="edge_version_set_immutable")
    doc = await ServiceRepository(org).by_id(service_id)
    if doc is None:
        raise _not_found(service_id)
    permission = "Service:UpdateVersionSet" if set_name in doc["version_sets"] else "Service:CreateVersionSet"
    principal.require(permission, {**service_attributes(doc), "version_set_name": set_name})
    value = version_set.model_dump()
    registry.check_preferences(value["llm_model_preferences"])

    async def write(session: AsyncClientSession) -> None:
        repository = ServiceRepository(org, session)
        current = await repository.claim({"_id": service_id})
        if current is None:
            raise _not_found(service_id)
        await _check_version_sets(org, session, current["agent_id"], current["service_hierarchical_state_machine_id"],
                                  {set_name: value})
        await repository.update_one({"_id": service_id}, {"$set": {
            f"version_sets.{set_name}": value, "updated_by": principal.user_info, "updated_at": utcnow()}})

    await in_transaction(org, write)


async def delete_version_set(org: OrgDb, principal: Principal, service_id: str, set_name: str) -> None:
    if set_name in (EDGE, RELEASE):
        raise InvalidRequest(f"The `{set_name}` version set cannot be deleted.", error_code="version_set_required")
    doc = await _authorized_service(org, principal, service_id, "Service:DeleteVersionSet", version_set_name=set_name)
    if set_name not in doc["version_sets"]:
        raise _no_version_set(service_id, set_name)

    async def write(session: AsyncClientSession) -> None:
        removed = await ServiceRepository(org, session).update_one(
            {"_id": service_id, f"version_sets.{set_name}": {"$exists": True}},
            {"$unset": {f"version_sets.{set_name}": ""}, "$set": {"updated_by": principal.user_info,
                                                                  "updated_at": utcnow()}})
        if not removed:
            raise _no_version_set(service_id, set_name)
        reason = await usage_reason(VERSION_SET_USAGE, org, session, service_id, set_name)
        if reason is not None:
            raise InvalidRequest(reason, error_code="version_set_in_use")

    await in_transaction(org, write)


async def claim_version_set(org: OrgDb, session: AsyncClientSession, service_id: str, set_name: str) -> Document:
    """Inside a caller's transaction: the service exists and has this version set, and stays so until commit
    (a concurrent deletion of the set conflicts with the caller's transaction)."""
    repository = ServiceRepository(org, session)
    # A name no version set could have is never put into a field path.
    if VERSION_SET_NAME.match(set_name):
        doc = await repository.claim({"_id": service_id, f"version_sets.{set_name}": {"$exists": True}})
        if doc is not None:
            return doc
    if await repository.by_id(service_id) is None:
        raise _not_found(service_id)
    raise _no_version_set(service_id, set_name)


async def claim_service(org: OrgDb, session: AsyncClientSession, service_id: str) -> Document:
    doc = await ServiceRepository(org, session).claim({"_id": service_id})
    if doc is None:
        raise _not_found(service_id)
    return doc


# Update ---------------------------------------------------------------------------------------------

def _field_changes(body: s.UpdateServiceRequest) -> Document:
    changes = body.model_dump(exclude_none=True, exclude={"tags"})
    if body.tags is not None:
        changes.update(tags=tags_to_list(body.tags), tag_strings=tags_to_strings(body.tags))
    return changes


async def _check_components(org: OrgDb, session: AsyncClientSession, registry: ModelRegistry, current: Document,
                             changes: Document) -> None:
    """Activating, or swapping the agent or state machine: everything the service would use must be live."""
    merged = {**current, **changes}
    try:
        await _claim_components(org, session, merged["agent_id"], merged["service_hierarchical_state_machine_id"])
    except NotFound as exc:
        raise InvalidRequest(exc.detail, error_code=exc.error_code) from exc
    await _check_version_sets(org, session, merged["agent_id"], merged["service_hierarchical_state_machine_id"],
                              current["version_sets"])
    if merged["is_active"]:
        unusable = registry.unusable(_model_names(current["version_sets"]))
        if unusable:
            raise InvalidRequest(f"The service's version sets prefer unsupported or deprecated models: "
                                 f"{', '.join(unusable)}.", error_code="llm_model_unsupported")


async def update_service(org: OrgDb, principal: Principal, registry: ModelRegistry, service_id: str,
                         body: s.UpdateServiceRequest) -> None:
    doc = await _authorized_service(org, principal, service_id, "Service:UpdateService")
    changes = _field_changes(body)

    async def write(session: AsyncClientSession) -> None:
        current = await claim_service(org, session, service_id)
        activating = changes.get("is_active") is True and not current["is_active"]
        swapping = any(changes.get(f, current[f]) != current[f]
                       for f in ("agent_id", "service_hierarchical_state_machine_id"))
        if activating or swapping:
            await _check_components(org, session, registry, current, changes)
        if changes.get("is_active") is False and current["is_active"]:
            reason = await usage_reason(SERVICE_USAGE, org, session, service_id)
            if reason is not None:
                raise InvalidRequest(reason, error_code="service_in_use")
        await ServiceRepository(org, session).update_one(
            {"_id": service_id}, {"$set": {**changes, "updated_by": principal.user_info, "updated_at": utcnow()}})

    try:
        await in_transaction(org, write)
    except DuplicateKeyError as exc:
        raise _duplicate_active_name(str(changes.get("name", doc["name"]))) from exc


# What services use ----------------------------------------------------------------------------------

def _active_services_using(field: str, label: str) -> UsageCheck:
    async def check(org: OrgDb, session: AsyncClientSession | None, key: tuple[str, ...]) -> str | None:
        users = await ServiceRepository(org, session).find_all({field: key[0], "is_active": True},
                                                               projection={"name": 1})
        if not users:
            return None
        names = ", ".join(sorted(repr(d["name"]) for d in users))
        return f"The {label} is used by active service(s) {names}; deactivate them first."

    return check


register_usage(AGENT.label, _active_services_using("agent_id", AGENT.label))
register_usage(STATE_MACHINE.label, _active_services_using("service_hierarchical_state_machine_id",
                                                           STATE_MACHINE.label))


register_table(SqlTable("services", ServiceRepository.collection_name, {
    "service_id": Column(TEXT, "_id"), "name": TEXT, "description": TEXT, "is_active": BOOLEAN, "agent_id": TEXT,
    "service_hierarchical_state_machine_id": TEXT, "version_sets": JSON, "tags": JSON, "keyterms": TEXT_LIST,
    "creator": USER_INFO, "updated_by": USER_INFO, "created_at": TIMESTAMP, "updated_at": TIMESTAMP}))
