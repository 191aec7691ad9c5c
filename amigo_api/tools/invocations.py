"""The invocation history: each direct invoke recorded, and get-tool-invocations / search-tool-invocations.

The contract's two invocation sources come from conversations and simulations, whose metadata a direct API
call does not have; a direct invoke is recorded with the extension source `{"type": "api-invocation",
"user_id"}`. Inputs are stored; sensitive user variables never are.

Visibility: invocations from regular conversations need `Conversation:GetInteractionInsights`, from
simulations `Simulation:GetSimulationUnitTestSetRun`, direct ones `Tool:InvokeTool` on their tool. Others are
left out of the answer, not refused."""

import hashlib
import re
from typing import Any

from amigo_api.core.auth import Principal
from amigo_api.core.clock import utcnow
from amigo_api.core.db import Document, OrgDb
from amigo_api.core.errors import InvalidRequest
from amigo_api.core.pagination import and_all, next_token, parse_sort
from amigo_api.core.permissions import MATCH_NOTHING
from amigo_api.core.sql_tables import INTEGER, JSON, TEXT, TIMESTAMP, VERSION_NUMBER, Column, SqlTable, register_table
from amigo_api.tools import schemas as s
from amigo_api.tools import versions
from amigo_api.tools.repository import (
    ToolInvocationDocument,
    ToolInvocationRepository,
    ToolRepository,
    ToolVersionDocument,
)
from amigo_api.tools.run_workflow import ToolInput
from amigo_api.tools.service import tool_attributes

API_INVOCATION = "api-invocation"
INVOCATION_SORT = {"created_at": "created_at", "version.major": "tool_version.major",
                   "version.minor": "tool_version.minor", "version.patch": "tool_version.patch",
                   "tool_id": "tool_id", "invocation_source.type": "invocation_source.type",
                   "invocation_status.succeeded": "invocation_status.succeeded"}
NEWEST_FIRST = [("created_at", -1)]
SEARCH_LIMIT = 100
STATUS_FIELDS = ("output", "exception_message", "exception_type", "exception_stack_trace")


def _invocation_id(run_id: str, index: int) -> str:
    return hashlib.sha256(f"{run_id}/{index}".encode()).hexdigest()[:24]


def _status(result: dict[str, Any]) -> dict[str, Any]:
    return {"succeeded": bool(result["succeeded"]), **{k: result[k] for k in STATUS_FIELDS if k in result}}


async def record(org: OrgDb, run_id: str, version: ToolVersionDocument, user_id: str, inputs: list[ToolInput],
                 results: list[dict[str, Any]]) -> None:
    """One invocation per input; ids follow from the run (a run is never retried, so it records once)."""
    now = utcnow()
    docs = [ToolInvocationDocument(
        _id=_invocation_id(run_id, index), tool_id=version["tool_id"], version_id=version["_id"],
        tool_version=version["version"], invocation_status=_status(result),
        invocation_source={"type": API_INVOCATION, "user_id": user_id}, duration_ms=int(result["duration_ms"]),
        inputs=tool_input.input_parameters, created_at=now, updated_at=now)
        for index, (tool_input, result) in enumerate(zip(inputs, results, strict=True))]
    await ToolInvocationRepository(org).store_many(docs)


# The sources the contract's `InvocationSource` has. Records of others (direct invokes, `api-invocation`, our
# extension) are returned only to a caller who names them in `invocation_source_type`: the official SDK, which
# never does, cannot parse them.
CONTRACT_SOURCES = ["regular-conversation", "simulation-conversation"]


async def _visible(org: OrgDb, principal: Principal) -> Document:
    tools = await ToolRepository(org).find_all({}, projection={"name": 1, "tag_strings": 1})
    invokable = [t["_id"] for t in tools if principal.can("Tool:InvokeTool", tool_attributes(t))]  # type: ignore[arg-type]
    alternatives = [{"invocation_source.type": API_INVOCATION, "tool_id": {"$in": invokable}}]
    for source_type, permission in (("regular-conversation", "Conversation:GetInteractionInsights"),
                                    ("simulation-conversation", "Simulation:GetSimulationUnitTestSetRun")):
        granted = principal.visible(permission, {})
        if granted != MATCH_NOTHING:
            alternatives.append({"invocation_source.type": source_type, **granted})
    return {"$or": alternatives}


async def _version_pairs(org: OrgDb, tool_ids: list[str], specifiers: list[str]) -> Document | None:
    """`version[i]` is a specifier for the versions of `tool_id[i]`."""
    if not specifiers:
        return {"tool_id": {"$in": tool_ids}} if tool_ids else None
    if len(specifiers) != len(tool_ids):
        raise InvalidRequest("The `tool_id` and `version` query parameters must have the same length: "
                             "`version[i]` applies to `tool_id[i]`.", error_code="tool_version_length_mismatch")
    pairs = [{"tool_id": tool_id, "version_id": {"$in": await versions.matching_ids(
        org, tool_id, versions.parse_specifier(specifier), {})}} for tool_id, specifier in zip(tool_ids, specifiers,
                                                                                              strict=True)]
    return {"$or": pairs}


def _filters(source_types: list[str], conversation_ids: list[str], run_ids: list[str],
             succeeded: bool | None) -> list[Document | None]:
    return [{"invocation_source.type": {"$in": source_types or CONTRACT_SOURCES}},
            {"invocation_source.conversation_id": {"$in": conversation_ids}} if conversation_ids else None,
            {"invocation_source.simulation_unit_test_set_run_id": {"$in": run_ids}} if run_ids else None,
            None if succeeded is None else {"invocation_status.succeeded": succeeded}]


def _instance(doc: ToolInvocationDocument, org_id: str) -> s.ToolInvocationInstance:
    return s.ToolInvocationInstance.model_validate({**doc, "id": doc["_id"], "org_id": org_id})


async def list_invocations(org: OrgDb, principal: Principal, *, tool_ids: list[str], specifiers: list[str],
                           source_types: list[str], conversation_ids: list[str], run_ids: list[str],
                           succeeded: bool | None, sort_by: list[str], limit: int, continuation_token: int
                           ) -> s.GetToolInvocationsResponse:
    sort = parse_sort(sort_by, INVOCATION_SORT) or NEWEST_FIRST
    query = and_all(await _visible(org, principal), await _version_pairs(org, tool_ids, specifiers),
                    *_filters(source_types, conversation_ids, run_ids, succeeded))
    docs, has_more = await ToolInvocationRepository(org).load_page(query, sort=sort, skip=continuation_token,
                                                                   limit=limit)
    return s.GetToolInvocationsResponse(tool_invocations=[_instance(d, org.org_id) for d in docs], has_more=has_more,
                                        continuation_token=next_token(continuation_token, len(docs), has_more))


async def search_invocations(org: OrgDb, principal: Principal, *, query: str, fields: list[str],
                             tool_ids: list[str], source_types: list[str], conversation_ids: list[str],
                             run_ids: list[str], succeeded: bool | None) -> s.SearchToolInvocationsResponse:
    """Case-insensitive substring matches of `query` (escaped: never a pattern) in any of `fields`, newest
    first, at most SEARCH_LIMIT."""
    pattern = {"$regex": re.escape(query), "$options": "i"}
    matches = {"$or": [{field: pattern} for field in fields]}
    found = and_all(await _visible(org, principal), matches, {"tool_id": {"$in": tool_ids}} if tool_ids else None,
                    *_filters(source_types, conversation_ids, run_ids, succeeded))
    docs, _ = await ToolInvocationRepository(org).load_page(found, sort=NEWEST_FIRST, skip=0, limit=SEARCH_LIMIT)
    return s.SearchToolInvocationsResponse(tool_invocations=[_instance(d, org.org_id) for d in docs])


register_table(SqlTable("tool_invocations", ToolInvocationRepository.collection_name, {
    "tool_invocation_id": Column(TEXT, "_id"), "tool_id": TEXT, "tool_version_id": Column(TEXT, "version_id"),
    "tool_version": VERSION_NUMBER, "invocation_status": JSON, "invocation_source": JSON, "duration_ms": INTEGER,
    "inputs": JSON, "created_at": TIMESTAMP, "updated_at": TIMESTAMP}))
