"""Rules for the tool registry: creating, listing, changing and deprecating tools, and their environment
variables."""

from datetime import datetime, timedelta
from typing import Any, cast

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from amigo_api.core.auth import Principal
from amigo_api.core.clock import utcnow
from amigo_api.core.crypto import SecretBox
from amigo_api.core.db import Document, OrgDb, in_transaction
from amigo_api.core.errors import Conflict, InvalidRequest, NotFound, found
from amigo_api.core.ids import new_id
from amigo_api.core.locks import acquire_lock, release_lock
from amigo_api.core.pagination import and_all, next_token, parse_sort, tag_filters, tags_to_list, tags_to_strings
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
from amigo_api.tools import schemas as s
from amigo_api.tools.repository import ToolDocument, ToolInvocationRepository, ToolRepository, ToolVersionRepository

TOOL_SORT = {"name": "name", "deprecated": "deprecated"}
DEPRECATION_LOCK_TTL = timedelta(minutes=1)
RELATED_OPERATION = "A related operation is in progress."


async def ensure_indexes(db: Any) -> None:
    for repository in (ToolRepository, ToolVersionRepository, ToolInvocationRepository):
        await repository.ensure_indexes(db)


def tool_lock(tool_id: str) -> str:
    """The operation lock of one tool: publishing holds it; deprecation takes it."""
    return f"tool/{tool_id}"


def tool_attributes(tool: ToolDocument) -> dict[str, Any]:
    """What grant conditions on tools match against."""
    return {"tool_id": tool["_id"], "tool_name": tool["name"], "tags": tool["tag_strings"]}


def _not_found() -> NotFound:
    return NotFound("The specified tool does not exist.", error_code="tool_not_found")


async def get_tool(org: OrgDb, tool_id: str) -> ToolDocument:
    return found(await ToolRepository(org).get(tool_id), _not_found())


def _instance(tool: ToolDocument, org_id: str) -> s.ToolInstance:
    return s.ToolInstance(
        id=tool["_id"], org_id=org_id, created_at=tool["created_at"], updated_at=tool["updated_at"],
        name=tool["name"], description=tool["description"], deprecated=tool["deprecated"],
        envvars=tool["envvars"], secret_envvars=tool["secret_envvars"],
        tags=[s.Tag.model_validate(t) for t in tool["tags"]], creator=s.UserInfo.model_validate(tool["creator"]),
        updated_by=s.UserInfo.model_validate(tool["updated_by"]))


async def create_tool(org: OrgDb, principal: Principal, body: s.CreateToolRequest) -> s.CreateToolResponse:
    if len(body.name) > s.MAX_TOOL_NAME:
        raise InvalidRequest(f"The tool name is too long: at most {s.MAX_TOOL_NAME} characters.",
                             error_code="tool_name_too_long")
    principal.require("Tool:CreateTool", {"tool_name": body.name, "tags": tags_to_strings(body.tags)})
    now = utcnow()
    tool = ToolDocument(
        _id=new_id(), name=body.name, description=body.description, deprecated=False, tags=tags_to_list(body.tags),
        tag_strings=tags_to_strings(body.tags), envvars=[], secret_envvars=[], envvar_values={},
        secret_envvar_values={}, deleted_envvars={}, creator=principal.user_info, updated_by=principal.user_info,
        created_at=now, updated_at=now)
    try:
        await ToolRepository(org).store(tool)
    except DuplicateKeyError as exc:
        raise Conflict("A tool with the same name already exists.", error_code="tool_exists") from exc
    return s.CreateToolResponse(id=tool["_id"])


async def list_tools(org: OrgDb, *, ids: list[str], deprecated: bool | None, tags: list[str], sort_by: list[str],
                     limit: int, continuation_token: int) -> s.GetToolsResponse:
    sort = parse_sort(sort_by, TOOL_SORT)
    query = and_all({"_id": {"$in": ids}} if ids else None,
                    None if deprecated is None else {"deprecated": deprecated}, *tag_filters(tags))
    repository = ToolRepository(org)
    docs, has_more = await repository.load_page(query, sort=sort, skip=continuation_token, limit=limit)
    filter_values = None
    if continuation_token == 0:  # counted over all the organization's tools, as the contract says
        filter_values = s.ToolFilterValues(tags=sorted(await repository.distinct("tag_strings", {})))
    return s.GetToolsResponse(tools=[_instance(d, org.org_id) for d in docs], has_more=has_more,
                              continuation_token=next_token(continuation_token, len(docs), has_more),
                              filter_values=filter_values)


async def modify_tool(org: OrgDb, principal: Principal, tool_id: str, body: s.ModifyToolRequest) -> None:
    tool = await get_tool(org, tool_id)
    principal.require("Tool:ModifyTool", tool_attributes(tool))
    changes: Document = {"updated_by": principal.user_info, "updated_at": utcnow()}
    if body.description is not None:
        changes["description"] = body.description
    if body.tags is not None:
        changes.update(tags=tags_to_list(body.tags), tag_strings=tags_to_strings(body.tags))
        principal.require("Tool:ModifyTool", {**tool_attributes(tool), "tags": changes["tag_strings"]})
    await ToolRepository(org).update_one({"_id": tool_id}, {"$set": changes})


async def deprecate_tool(org: OrgDb, principal: Principal, tool_id: str) -> None:
    """The tool and all its versions, in one transaction; refused while a publish of the tool holds its lock."""
    tool = await get_tool(org, tool_id)
    principal.require("Tool:DeleteTool", tool_attributes(tool))
    owner = f"deprecate/{new_id()}"
    if not await acquire_lock(org, tool_lock(tool_id), owner, DEPRECATION_LOCK_TTL):
        raise Conflict(RELATED_OPERATION, error_code="tool_operation_in_progress")
    now = utcnow()

    async def deprecate(session: AsyncClientSession) -> None:
        await ToolRepository(org, session).update_one({"_id": tool_id}, {"$set": {
            "deprecated": True, "updated_by": principal.user_info, "updated_at": now}})
        await ToolVersionRepository(org, session).update_many({"tool_id": tool_id, "deprecated": False},
                                                              {"$set": {"deprecated": True, "updated_at": now}})

    try:
        await in_transaction(org, deprecate)
    finally:
        await release_lock(org, tool_lock(tool_id), owner)


# Environment variables ------------------------------------------------------------------------------

def _check_names_once(body: s.ModifyToolEnvvarsRequest) -> None:
    names = [e.name for e in body.inserts] + [e.name for e in body.updates] + [e.name for e in body.deletes]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise InvalidRequest(f"Each environment variable may appear once per request: {', '.join(twice)}.",
                             error_code="envvar_named_twice")


def _envvar_changes(tool: ToolDocument, body: s.ModifyToolEnvvarsRequest, box: SecretBox, now: datetime,
                    grace: timedelta) -> Document:
    """The tool's variables after the change (as a `$set`), or the reason it is refused. Messages name
    variables, never values."""
    values, secrets = dict(tool["envvar_values"]), dict(tool["secret_envvar_values"])
    deleted = {n: at for n, at in tool["deleted_envvars"].items() if at > now - grace}
    for insert in body.inserts:
        if insert.name in values or insert.name in secrets:
            raise Conflict(f"The environment variable {insert.name} exists.", error_code="envvar_exists")
        if insert.name in deleted:
            raise Conflict(f"The environment variable {insert.name} was deleted less than {grace} ago; versions "
                           "still running may read it.", error_code="envvar_recently_deleted")
        (secrets if insert.is_secret else values)[insert.name] = (
            box.encrypt(insert.value) if insert.is_secret else insert.value)
    for name in [u.name for u in body.updates] + [d.name for d in body.deletes]:
        if name not in values and name not in secrets:
            raise InvalidRequest(f"The environment variable {name} does not exist.", error_code="envvar_not_found")
    for update in body.updates:
        if update.name in secrets:
            secrets[update.name] = box.encrypt(update.value)
        else:
            values[update.name] = update.value
    for delete in body.deletes:
        values.pop(delete.name, None)
        secrets.pop(delete.name, None)
        deleted[delete.name] = now
    if len(values) + len(secrets) > s.MAX_ENVVARS:
        raise InvalidRequest(f"A tool has at most {s.MAX_ENVVARS} environment variables.",
                             error_code="too_many_envvars")
    return {"envvars": sorted(values), "secret_envvars": sorted(secrets), "envvar_values": values,
            "secret_envvar_values": secrets, "deleted_envvars": deleted}


async def modify_envvars(org: OrgDb, principal: Principal, box: SecretBox, grace: timedelta, tool_id: str,
                         body: s.ModifyToolEnvvarsRequest) -> None:
    """Inserts, updates and deletes as one change, checked against the tool as it is when it is written."""
    _check_names_once(body)

    async def write(session: AsyncClientSession) -> None:
        tools = ToolRepository(org, session)
        current = cast(ToolDocument | None, await tools.claim({"_id": tool_id}))
        if current is None:
            raise _not_found()
        principal.require("Tool:ModifyTool", tool_attributes(current))
        for delete in body.deletes:
            if await ToolVersionRepository(org, session).using_envvar(tool_id, delete.name) is not None:
                raise InvalidRequest(f"The environment variable {delete.name} is required by a non-deprecated "
                                     "version of the tool.", error_code="envvar_in_use")
        now = utcnow()
        changes = _envvar_changes(current, body, box, now, grace)
        await tools.update_one({"_id": tool_id}, {"$set": {
            **changes, "updated_by": principal.user_info, "updated_at": now}})

    await in_transaction(org, write)


register_table(SqlTable("tools", ToolRepository.collection_name, {
    "tool_id": Column(TEXT, "_id"), "name": TEXT, "description": TEXT, "deprecated": BOOLEAN, "tags": JSON,
    "envvars": TEXT_LIST, "secret_envvars": TEXT_LIST, "creator": USER_INFO, "updated_by": USER_INFO,
    "created_at": TIMESTAMP, "updated_at": TIMESTAMP}))
