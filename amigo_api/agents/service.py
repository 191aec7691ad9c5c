"""Rules for agents and state machines: unique live names, numbered versions, deprecation guarded by use."""

import re
from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from amigo_api.agents import schemas as s
from amigo_api.agents.graph import validate_graph
from amigo_api.agents.repository import (
    REPOSITORIES,
    AgentRepository,
    AgentVersionRepository,
    DefinitionRepository,
    StateMachineRepository,
    StateMachineVersionRepository,
    VersionRepository,
)
from amigo_api.core.auth import Principal
from amigo_api.core.clock import utcnow
from amigo_api.core.db import Document, OrgDb, in_transaction
from amigo_api.core.errors import Conflict, InvalidRequest, NotFound
from amigo_api.core.ids import new_id
from amigo_api.core.pagination import QueryValidationError, and_all, next_token, parse_sort
from amigo_api.core.references import usage_reason
from amigo_api.core.repository import with_id
from amigo_api.core.sql_tables import (
    BOOLEAN,
    INTEGER,
    JSON,
    TEXT,
    TEXT_LIST,
    TIMESTAMP,
    USER_INFO,
    Column,
    ColumnType,
    SqlTable,
    register_table,
)


@dataclass(frozen=True)
class DefinitionKind:
    label: str
    definitions: type[DefinitionRepository]
    versions: type[VersionRepository]
    id_attribute: str
    name_attribute: str
    get_permission: str
    create_permission: str
    version_permission: str
    delete_permission: str

    def attributes(self, doc: Document) -> dict[str, Any]:
        """What permission conditions on this kind can refer to."""
        return {self.id_attribute: doc["_id"], self.name_attribute: doc["name"]}

    @property
    def code(self) -> str:
        """The label as it appears in error codes."""
        return self.label.replace(" ", "_")

    @property
    def fields(self) -> dict[str, str]:
        return {self.id_attribute: "_id", self.name_attribute: "name"}


AGENT = DefinitionKind(
    "agent", AgentRepository, AgentVersionRepository, "agent_id", "agent_name", "Organization:GetAgent",
    "Organization:CreateAgent", "Organization:CreateAgentVersion", "Organization:DeleteAgent")
STATE_MACHINE = DefinitionKind(
    "state machine", StateMachineRepository, StateMachineVersionRepository, "service_hierarchical_state_machine_id",
    "state_machine_name", "Organization:GetServiceHierarchicalStateMachine",
    "Organization:CreateServiceHierarchicalStateMachine",
    "Organization:CreateServiceHierarchicalStateMachineVersion",
    "Organization:DeleteServiceHierarchicalStateMachine")
AGENT_REQUIRED = ("initials", "identity", "background", "behaviors", "communication_patterns")
VERSION_SORT = {"version": "version"}


async def ensure_indexes(db: Any) -> None:
    for repository in REPOSITORIES:
        await repository.ensure_indexes(db)


# Definitions ----------------------------------------------------------------------------------------

async def create_definition(org: OrgDb, principal: Principal, kind: DefinitionKind, name: str) -> s.IdResponse:
    principal.require(kind.create_permission, {kind.name_attribute: name})
    now = utcnow()
    definition_id = new_id()
    doc = {"_id": definition_id, "name": name, "deprecated": False, "latest_version": None, "created_at": now,
           "updated_at": now, "creator": principal.user_info}
    try:
        await kind.definitions(org).insert_one(doc)
    except DuplicateKeyError as exc:
        raise Conflict(f"There is already a {kind.label} named {name!r}.", error_code=f"{kind.code}_exists") from exc
    return s.IdResponse(id=definition_id)


async def list_definitions(org: OrgDb, principal: Principal, kind: DefinitionKind, *, ids: list[str],
                           deprecated: bool | None, limit: int, continuation_token: int
                           ) -> tuple[list[s.DefinitionInstance], bool, int | None]:
    query = and_all({"_id": {"$in": ids}} if ids else None,
                    None if deprecated is None else {"deprecated": deprecated},
                    principal.visible(kind.get_permission, kind.fields))
    docs, has_more = await kind.definitions(org).find_page(query, sort=[], skip=continuation_token, limit=limit)
    return ([s.DefinitionInstance.model_validate(with_id(d)) for d in docs], has_more,
            next_token(continuation_token, len(docs), has_more))


def _not_found(kind: DefinitionKind, definition_id: str) -> NotFound:
    return NotFound(f"The {kind.label} {definition_id} does not exist.", error_code=f"{kind.code}_not_found")


async def _definition(org: OrgDb, kind: DefinitionKind, definition_id: str,
                      session: AsyncClientSession | None = None) -> Document:
    doc = await kind.definitions(org, session).by_id(definition_id)
    if doc is None:
        raise _not_found(kind, definition_id)
    return doc


async def _authorized_definition(org: OrgDb, principal: Principal, kind: DefinitionKind, definition_id: str,
                                 permission: str) -> Document:
    doc = await _definition(org, kind, definition_id)
    principal.require(permission, kind.attributes(doc))
    return doc


async def delete_definition(org: OrgDb, principal: Principal, kind: DefinitionKind, definition_id: str) -> None:
    """Deprecate; refused while an active service uses it. Services claim what they use inside their own
    transaction (`claim_for_use`), so an activation and a deprecation cannot both succeed."""
    await _authorized_definition(org, principal, kind, definition_id, kind.delete_permission)

    async def deprecate(session: AsyncClientSession) -> None:
        changed = await kind.definitions(org, session).update_one(
            {"_id": definition_id, "deprecated": False}, {"$set": {"deprecated": True, "updated_at": utcnow()}})
        if not changed:
            raise Conflict(f"The {kind.label} {definition_id} is already deleted.", error_code="already_deleted")
        reason = await usage_reason(kind.label, org, session, definition_id)
        if reason is not None:
            raise InvalidRequest(reason, error_code=f"{kind.code}_in_use")

    await in_transaction(org, deprecate)


async def claim_for_use(org: OrgDb, session: AsyncClientSession, kind: DefinitionKind,
                        definition_id: str) -> Document:
    """Inside a caller's transaction: the definition exists, is not deprecated and has a version. Writing
    to it makes a concurrent deprecation conflict with the caller's transaction instead of racing it."""
    doc = await kind.definitions(org, session).claim({"_id": definition_id})
    if doc is None:
        raise _not_found(kind, definition_id)
    if doc["deprecated"]:
        raise InvalidRequest(f"The {kind.label} {definition_id} is deleted and cannot be used by an active service.",
                             error_code=f"{kind.code}_deleted")
    if doc.get("latest_version") is None:
        raise InvalidRequest(f"The {kind.label} {definition_id} has no versions yet; create one first.",
                             error_code=f"{kind.code}_has_no_versions")
    return doc


async def has_version(org: OrgDb, kind: DefinitionKind, definition_id: str, version: int,
                      session: AsyncClientSession | None = None) -> bool:
    return await kind.versions(org, session).numbered(definition_id, version) is not None


# Versions -------------------------------------------------------------------------------------------

async def _next_version(versions: VersionRepository, parent_id: str, expected: int | None
                        ) -> tuple[int, Document | None]:
    latest = await versions.latest(parent_id)
    number = (latest["version"] if latest else 0) + 1
    if expected is not None and expected != number:
        raise Conflict(f"The next version is {number}, not {expected}.", error_code="unexpected_version")
    return number, latest


async def _insert_version(org: OrgDb, principal: Principal, kind: DefinitionKind, parent_id: str, number: int,
                          body: Document) -> s.VersionCreatedResponse:
    now = utcnow()
    doc = {**body, "_id": new_id(), kind.id_attribute: parent_id, "version": number, "created_at": now,
           "creator": principal.user_info}
    try:
        await kind.versions(org).insert_one(doc)
    except DuplicateKeyError as exc:
        raise Conflict(f"Version {number} was created concurrently; retry.", error_code="unexpected_version") from exc
    await kind.definitions(org).update_one({"_id": parent_id},
                                           {"$max": {"latest_version": number}, "$set": {"updated_at": now}})
    return s.VersionCreatedResponse(id=doc["_id"], version=number, created_at=now)


def _agent_version_body(body: s.CreateAgentVersionRequest, latest: Document | None) -> Document:
    given = body.model_dump(exclude_none=True)
    if "voice_config" in given:
        given["voice_config"] = s.VoiceConfigInstance(voice_id=given["voice_config"]["voice_id"]).model_dump()
    if latest is None:
        missing = [name for name in AGENT_REQUIRED if name not in given]
        if missing:
            raise InvalidRequest(f"The first version of an agent needs every field; missing: {', '.join(missing)}.",
                                 error_code="incomplete_initial_version")
        return {"voice_config": None, **given}
    inherited = {name: latest.get(name) for name in (*AGENT_REQUIRED, "voice_config")}
    return {**inherited, **given}


async def create_agent_version(org: OrgDb, principal: Principal, agent_id: str, body: s.CreateAgentVersionRequest,
                               expected: int | None) -> s.VersionCreatedResponse:
    await _authorized_definition(org, principal, AGENT, agent_id, AGENT.version_permission)
    number, latest = await _next_version(AGENT.versions(org), agent_id, expected)
    return await _insert_version(org, principal, AGENT, agent_id, number, _agent_version_body(body, latest))


async def _referenced_states(org: OrgDb, references: dict[str, tuple[str, int]]) -> dict[str, set[str]]:
    states: dict[str, set[str]] = {}
    for name, (machine_id, version) in references.items():
        machine = await STATE_MACHINE.definitions(org).by_id(machine_id)
        if machine is None or machine["deprecated"]:
            raise InvalidRequest(f"Reference {name!r} names state machine {machine_id}, which does not exist or is "
                                 "deleted.", error_code="invalid_reference")
        referenced = await STATE_MACHINE.versions(org).numbered(machine_id, version)
        if referenced is None:
            raise InvalidRequest(f"Reference {name!r} names version {version} of state machine {machine_id}, which "
                                 "does not exist.", error_code="invalid_reference")
        states[name] = {state["name"] for state in referenced["states"]}
    return states


async def create_state_machine_version(org: OrgDb, principal: Principal, machine_id: str,
                                       body: s.StateMachineBody, expected: int | None,
                                       dry_run: bool) -> s.VersionCreatedResponse | None:
    await _authorized_definition(org, principal, STATE_MACHINE, machine_id, STATE_MACHINE.version_permission)
    validate_graph(body, await _referenced_states(org, body.references))
    number, _ = await _next_version(STATE_MACHINE.versions(org), machine_id, expected)
    if dry_run:
        return None
    return await _insert_version(org, principal, STATE_MACHINE, machine_id, number, body.model_dump(mode="json"))


_NUMBER = re.compile(r"^\d{1,9}$")
_RANGE = re.compile(r"^(\d{1,9})-(\d{1,9})$")


async def _version_filter(versions: VersionRepository, parent_id: str, selector: str | None) -> Document | None:
    """`N`, `latest`, or an inclusive range `A-B`."""
    if selector is None:
        return None
    if selector == "latest":
        latest = await versions.latest(parent_id)
        return {"version": latest["version"] if latest else 0}
    if _NUMBER.match(selector):
        return {"version": int(selector)}
    match = _RANGE.match(selector)
    if match is None or int(match[1]) > int(match[2]):
        raise QueryValidationError(f"`version` {selector!r} must be a number, `latest`, or a range such as `2-5`.")
    return {"version": {"$gte": int(match[1]), "$lte": int(match[2])}}


async def list_versions(org: OrgDb, principal: Principal, kind: DefinitionKind, parent_id: str, *,
                        version: str | None, limit: int, continuation_token: int, sort_by: list[str]
                        ) -> tuple[list[Document], bool, int | None]:
    """Newest first unless `sort_by` says otherwise."""
    sort = parse_sort(sort_by, VERSION_SORT) or [("version", -1)]
    await _authorized_definition(org, principal, kind, parent_id, kind.get_permission)
    versions = kind.versions(org)
    query = and_all({kind.id_attribute: parent_id}, await _version_filter(versions, parent_id, version))
    docs, has_more = await versions.find_page(query, sort=sort, skip=continuation_token, limit=limit)
    return [with_id(d) for d in docs], has_more, next_token(continuation_token, len(docs), has_more)


_DEFINITION_COLUMNS: dict[str, ColumnType] = {
    "name": TEXT, "deprecated": BOOLEAN, "latest_version": INTEGER, "creator": USER_INFO, "created_at": TIMESTAMP,
    "updated_at": TIMESTAMP}
_VERSION_COLUMNS: dict[str, ColumnType] = {"version": INTEGER, "creator": USER_INFO, "created_at": TIMESTAMP}
register_table(SqlTable("agents", AgentRepository.collection_name, {
    "agent_id": Column(TEXT, "_id"), **_DEFINITION_COLUMNS}))
register_table(SqlTable("agent_versions", AgentVersionRepository.collection_name, {
    "agent_version_id": Column(TEXT, "_id"), "agent_id": TEXT, **_VERSION_COLUMNS, "initials": TEXT,
    "identity": JSON, "background": TEXT, "behaviors": TEXT_LIST, "communication_patterns": TEXT_LIST,
    "voice_config": JSON}))
register_table(SqlTable("service_hierarchical_state_machines", StateMachineRepository.collection_name, {
    "service_hierarchical_state_machine_id": Column(TEXT, "_id"), **_DEFINITION_COLUMNS}))
register_table(SqlTable("service_hierarchical_state_machine_versions", StateMachineVersionRepository.collection_name, {
    "state_machine_version_id": Column(TEXT, "_id"), "service_hierarchical_state_machine_id": TEXT,
    **_VERSION_COLUMNS, "description": TEXT, "states": JSON, "new_user_initial_state": TEXT,
    "returning_user_initial_state": TEXT, "terminal_state": TEXT, "references": JSON}))
