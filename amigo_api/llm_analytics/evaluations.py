"""Evaluations (reference §4) and the provider keys an LLM judge runs with (BYOK, §9)."""

import re
from typing import Any

from fastapi import Request

from amigo_api.core.clock import utcnow
from amigo_api.core.crypto import SecretBox
from amigo_api.core.db import Document, OrgDb
from amigo_api.core.errors import InvalidRequest, NotFound, RateLimited
from amigo_api.core.outbound import OutboundPolicy, OutboundRefused
from amigo_api.core.sql_tables import BOOLEAN, JSON, TEXT, SqlTable, register_table
from amigo_api.hog.bytecode import FORMAT_VERSION, compile_source
from amigo_api.hog.lexer import HogSyntaxError
from amigo_api.hog.pool import HogBusy, HogPool, HogStopped
from amigo_api.llm_analytics import schemas as s
from amigo_api.llm_analytics.auth import EnvironmentCaller
from amigo_api.llm_analytics.datasets import COMMON_COLUMNS, ID_COLUMN, NEWEST_FIRST, Resource
from amigo_api.llm_analytics.errors import FieldError
from amigo_api.llm_analytics.evaluation_rules import (
    compiled_condition,
    model_allowed_without_key,
    status_for,
    validate_conditions,
    validate_configs,
)
from amigo_api.llm_analytics.resources import Creators, as_uuid, id_list, order, parse_uuid, uuid7

EVALUATIONS = "llm_evaluations"
PROVIDER_KEYS = "llm_provider_keys"
EVALUATION_CONFIGS = "llm_evaluation_configs"
TRIAL_EVAL_LIMIT = 100
FIELDS = ("name", "description", "enabled", "status", "status_reason", "evaluation_type", "evaluation_config",
          "output_type", "output_config", "conditions", "deleted")
BASE_URLS = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com/v1",
             "gemini": "https://generativelanguage.googleapis.com/v1beta/openai",
             "openrouter": "https://openrouter.ai/api/v1", "fireworks": "https://api.fireworks.ai/inference/v1",
             "together_ai": "https://api.together.xyz/v1", "minimax": "https://api.minimax.io/v1"}
COMPILE_SECONDS = 10  # a save waits this long for a Hog child, and its compiling this long again


def _scope(caller: EnvironmentCaller, **query: Any) -> Document:
    return {"org_id": caller.org.org_id, "environment_id": caller.environment["_id"], **query}


async def _render(doc: Document, caller: EnvironmentCaller, creators: Creators) -> dict[str, Any]:
    model = doc.get("model_configuration")
    if model is not None:
        key = await find_provider_key(caller, model["provider_key_id"]) if model["provider_key_id"] else None
        model = {**model, "provider_key_name": key["name"] if key else None}
    return {"id": doc["_id"], **{f: doc[f] for f in FIELDS}, "model_configuration": model,
            "created_at": doc["created_at"], "updated_at": doc["updated_at"],
            "created_by": await creators.of(doc["created_by"])}


evaluations = Resource(EVALUATIONS, (), _render)


def _compiled(evaluation_type: str, evaluation_config: dict[str, Any]) -> dict[str, Any]:
    """A Hog evaluation's source compiled into its `bytecode` (400 with line and column when it does not), here:
    for evaluations stored before the current format, at start-up."""
    if evaluation_type == "hog":
        try:
            return {**evaluation_config, "bytecode": compile_source(evaluation_config["source"])}
        except (HogSyntaxError, RecursionError) as error:
            raise FieldError(f"Failed to compile Hog code: {error}", "evaluation_config") from error
    return evaluation_config


async def _compiled_in(pool: HogPool, owner: str, evaluation_type: str, evaluation_config: dict[str, Any]
                       ) -> dict[str, Any]:
    """What a client saves is compiled in a child of the Hog pool: it is work on the client's input."""
    if evaluation_type != "hog":
        return evaluation_config
    try:
        answer = await pool.call(owner, ("compile", evaluation_config["source"]), COMPILE_SECONDS,
                                 wait_seconds=COMPILE_SECONDS)
    except HogBusy as busy:
        raise RateLimited("Too many Hog programs of this organization are running; try again in a few seconds.",
                          error_code="throttled", headers={"Retry-After": "5"}) from busy
    except HogStopped as stopped:
        ran_out = "time" if stopped.reason == "timeout" else "memory"
        raise FieldError(f"Failed to compile Hog code: it ran out of {ran_out}.", "evaluation_config") from stopped
    if answer[0] == "refused":
        raise FieldError(f"Failed to compile Hog code: {answer[1]}", "evaluation_config")
    return {**evaluation_config, "bytecode": answer[1]}


def evaluation_query(search: str | None, enabled: bool | None, ids: str | None) -> Document:
    query: Document = {}
    if search:
        pattern = {"$regex": re.escape(search), "$options": "i"}
        query["$or"] = [{"name": pattern}, {"description": pattern}]
    if enabled is not None:
        query["enabled"] = enabled
    if (wanted := id_list(ids)) is not None:
        query["_id"] = {"$in": wanted}
    return query


def evaluation_order(order_by: list[str]) -> list[tuple[str, int]]:
    return order(order_by, ("created_at", "updated_at", "name"), NEWEST_FIRST)


async def _model_configuration(caller: EnvironmentCaller, registry_names: set[str], evaluation_type: str,
                               value: s.ModelConfigurationIn | None) -> Document | None:
    """The judge's provider, model and key: the key must be this environment's and of that provider; without
    one, the model must be one the trial or the model registry offers."""
    if value is None:
        return None
    if evaluation_type != "llm_judge":
        raise FieldError("A model configuration is only for llm_judge evaluations.", "model_configuration")
    if value.provider_key_id is not None:
        key = await find_provider_key(caller, parse_uuid(value.provider_key_id, "model_configuration"))
        if key is None:
            raise FieldError("Provider key not found", "model_configuration")
        if key["provider"] != value.provider:
            raise FieldError(f"The provider key is for {key['provider']}, not {value.provider}.",
                             "model_configuration")
    elif not model_allowed_without_key(value.provider, value.model, registry_names):
        raise FieldError(f"The model {value.model!r} of {value.provider} needs a provider key.",
                         "model_configuration")
    return {"provider": value.provider, "model": value.model, "provider_key_id": value.provider_key_id}


async def create_evaluation(caller: EnvironmentCaller, registry_names: set[str], pool: HogPool,
                            body: s.EvaluationCreate) -> dict[str, Any]:
    evaluation_config, output_config = validate_configs(body.evaluation_type, body.output_type,
                                                        body.evaluation_config, body.output_config)
    evaluation_config = await _compiled_in(pool, caller.org.org_id, body.evaluation_type, evaluation_config)
    status, reason = status_for(body.enabled)
    now = utcnow()
    doc = {**_scope(caller), "_id": uuid7(), "name": body.name, "description": body.description,
           "enabled": body.enabled, "status": status, "status_reason": reason,
           "evaluation_type": body.evaluation_type, "evaluation_config": evaluation_config,
           "output_type": body.output_type, "output_config": output_config,
           "conditions": validate_conditions(body.conditions),
           "model_configuration": await _model_configuration(caller, registry_names, body.evaluation_type,
                                                             body.model_configuration),
           "deleted": bool(body.deleted), "created_by": caller.principal.user_id, "created_at": now,
           "updated_at": now, "compiled_format": FORMAT_VERSION}
    await evaluations.collection(caller).insert_one(doc)
    return await evaluations.show(caller, doc)


async def update_evaluation(caller: EnvironmentCaller, registry_names: set[str], pool: HogPool, evaluation_id: str,
                            body: s.EvaluationPatch | s.EvaluationCreate) -> dict[str, Any]:
    """Only what the request sends changes; the stored types validate a config sent alone."""
    current = await evaluations.get(caller, evaluation_id, include_deleted=True)
    sent = body.model_fields_set
    if "name" in sent and body.name is None:
        raise FieldError("This field may not be null.", "name", "null")
    merged = {**current, **{f: getattr(body, f) for f in sent if f in FIELDS and getattr(body, f) is not None}}
    changes: Document = {f: merged[f] for f in ("name", "description", "evaluation_type", "output_type") if f in sent}
    if sent & {"evaluation_type", "output_type", "evaluation_config", "output_config"}:
        changes["evaluation_config"], changes["output_config"] = validate_configs(
            merged["evaluation_type"], merged["output_type"], merged["evaluation_config"], merged["output_config"])
        changes["evaluation_config"] = await _compiled_in(pool, caller.org.org_id, merged["evaluation_type"],
                                                          changes["evaluation_config"])
    if "conditions" in sent:
        changes["conditions"] = validate_conditions(body.conditions)
    if "conditions" in changes or "evaluation_config" in changes:
        changes["compiled_format"] = FORMAT_VERSION
    if "enabled" in sent and body.enabled is not None and body.enabled != current["enabled"]:
        changes["enabled"] = body.enabled
        changes["status"], changes["status_reason"] = status_for(body.enabled)
    if "deleted" in sent:
        changes["deleted"] = bool(body.deleted)
    if "model_configuration" in sent:  # an explicit null clears it
        changes["model_configuration"] = await _model_configuration(
            caller, registry_names, merged["evaluation_type"], body.model_configuration)
    elif merged["evaluation_type"] != "llm_judge" and current.get("model_configuration") is not None:
        raise FieldError("A model configuration is only for llm_judge evaluations.", "model_configuration")
    changes["updated_at"] = utcnow()
    await evaluations.collection(caller).update_one(_scope(caller, _id=current["_id"]), {"$set": changes})
    return await evaluations.show(caller, {**current, **changes})


async def compile_stored_evaluations(db: Any) -> int:
    """The backfill: evaluations stored before the current compiled format (or before there was one) get
    their Hog source and condition filters compiled again. A source that no longer compiles puts the
    evaluation in error (`hog_error`) rather than stopping the service."""
    changed = 0
    async for doc in db[EVALUATIONS].find({"compiled_format": {"$ne": FORMAT_VERSION}}):
        changes: Document = {"compiled_format": FORMAT_VERSION,
                             "conditions": [compiled_condition(c) for c in doc.get("conditions") or []]}
        try:
            changes["evaluation_config"] = _compiled(doc["evaluation_type"], doc.get("evaluation_config") or {})
        except FieldError:
            changes.update(enabled=False, status="error", status_reason="hog_error")
        await db[EVALUATIONS].update_one({"_id": doc["_id"], "org_id": doc["org_id"]}, {"$set": changes})
        changed += 1
    return changed


async def list_evaluations(request: Request, caller: EnvironmentCaller, query: Document,
                           sort: list[tuple[str, int]], limit: int, offset: int) -> dict[str, Any]:
    return await evaluations.list(request, caller, query, sort, limit, offset)


# Provider keys and the environment's evaluation config ------------------------------------------------

def _mask(api_key: str) -> str:
    return f"{api_key[:3]}...{api_key[-4:]}" if len(api_key) > 10 else "..."


def render_key(doc: Document) -> dict[str, Any]:
    """Never the key itself: its masked form only."""
    return {"id": doc["_id"], "provider": doc["provider"], "name": doc["name"], "base_url": doc["base_url"],
            "state": doc["state"], "error_message": doc["error_message"], "api_key_masked": doc["api_key_masked"],
            "created_at": doc["created_at"]}


async def find_provider_key(caller: EnvironmentCaller, key_id: str) -> Document | None:
    found = await caller.org.db[PROVIDER_KEYS].find_one(_scope(caller, _id=key_id))
    return dict(found) if found else None


async def create_provider_key(caller: EnvironmentCaller, box: SecretBox, outbound: OutboundPolicy,
                              body: s.ProviderKeyCreate) -> dict[str, Any]:
    """Stored encrypted; no call to the provider (the state changes when a run uses the key). The base URL must
    lead to an address the outbound policy allows (checked again whenever a run connects)."""
    base_url = body.base_url or BASE_URLS.get(body.provider)
    if base_url is None:
        raise FieldError(f"`base_url` is required for {body.provider} keys.", "base_url", "required")
    try:
        await outbound.check_url(base_url)
    except OutboundRefused as refused:
        raise FieldError(f"`base_url` is refused: {refused}", "base_url", "invalid") from refused
    doc = {**_scope(caller), "_id": uuid7(), "provider": body.provider, "name": body.name,
           "api_key": box.encrypt(body.api_key), "api_key_masked": _mask(body.api_key), "base_url": base_url,
           "state": "ok", "error_message": None, "created_by": caller.principal.user_id, "created_at": utcnow()}
    await caller.org.db[PROVIDER_KEYS].insert_one(doc)
    return render_key(doc)


async def list_provider_keys(caller: EnvironmentCaller) -> list[dict[str, Any]]:
    docs = await caller.org.db[PROVIDER_KEYS].find(_scope(caller)).sort([("created_at", 1), ("_id", 1)]).to_list()
    return [render_key(d) for d in docs]


async def delete_provider_key(caller: EnvironmentCaller, key_id: str) -> None:
    key_uuid = as_uuid(key_id)
    deleted = await caller.org.db[PROVIDER_KEYS].delete_one(_scope(caller, _id=key_uuid)) if key_uuid else None
    if deleted is None or not deleted.deleted_count:
        raise NotFound("Not found.")
    await caller.org.db[EVALUATION_CONFIGS].update_many(_scope(caller, active_provider_key=key_id),
                                                        {"$set": {"active_provider_key": None}})


async def stored_config(org: OrgDb, environment_id: int) -> Document:
    """Get or create an environment's config (trial quota and active key)."""
    scope = {"org_id": org.org_id, "environment_id": environment_id, "_id": str(environment_id)}
    now = utcnow()
    await org.db[EVALUATION_CONFIGS].update_one(scope, {"$setOnInsert": {
        "trial_eval_limit": TRIAL_EVAL_LIMIT, "trial_evals_used": 0, "active_provider_key": None, "created_at": now,
        "updated_at": now}}, upsert=True)
    doc = await org.db[EVALUATION_CONFIGS].find_one(scope)
    assert doc is not None  # upserted above
    return dict(doc)


async def evaluation_config(caller: EnvironmentCaller) -> dict[str, Any]:
    doc = await stored_config(caller.org, caller.environment["_id"])
    key = await find_provider_key(caller, doc["active_provider_key"]) if doc["active_provider_key"] else None
    return {"trial_eval_limit": doc["trial_eval_limit"], "trial_evals_used": doc["trial_evals_used"],
            "trial_evals_remaining": max(0, doc["trial_eval_limit"] - doc["trial_evals_used"]),
            "active_provider_key": render_key(key) if key else None, "created_at": doc["created_at"],
            "updated_at": doc["updated_at"]}


async def set_active_key(caller: EnvironmentCaller, key_id: str | None) -> dict[str, Any]:
    if not key_id:
        raise InvalidRequest("key_id is required.", error_code="required")
    key = await find_provider_key(caller, parse_uuid(key_id, "key_id"))
    if key is None:
        raise NotFound("Key not found.")
    if key["state"] != "ok":
        raise InvalidRequest(f"The key's state is {key['state']}: only a working key can be active.",
                             error_code="invalid_key_state")
    await evaluation_config(caller)
    await caller.org.db[EVALUATION_CONFIGS].update_one(_scope(caller, _id=f"{caller.environment['_id']}"), {
        "$set": {"active_provider_key": key["_id"], "updated_at": utcnow()}})
    return await evaluation_config(caller)


# Never key material: a judge's model configuration names its key by id only.
register_table(SqlTable("evaluations", EVALUATIONS, {
    "id": ID_COLUMN, "name": TEXT, "description": TEXT, "enabled": BOOLEAN, "status": TEXT, "status_reason": TEXT,
    "evaluation_type": TEXT, "evaluation_config": JSON, "output_type": TEXT, "output_config": JSON,
    "conditions": JSON, "model_configuration": JSON, **COMMON_COLUMNS}))
