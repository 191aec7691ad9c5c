"""Environments (PostHog's projects, each owned by one Amigo organization) and personal API keys."""

import secrets
import uuid
from typing import Any, cast

from pymongo.asynchronous.database import AsyncDatabase

from amigo_api.core.auth import Principal
from amigo_api.core.clock import utcnow
from amigo_api.core.crypto import hash_api_key_secret
from amigo_api.core.db import Document, OrgDb
from amigo_api.core.errors import NotFound
from amigo_api.llm_analytics import run_records
from amigo_api.llm_analytics import schemas as s
from amigo_api.llm_analytics.repository import (
    ENVIRONMENTS,
    PERSONAL_API_KEYS,
    EnvironmentDocument,
    EventRepository,
    PersonalApiKeyDocument,
    ensure_infra_indexes,
    next_environment_id,
)
from amigo_api.users.service import find_user

PROJECT_TOKEN_PREFIX = "phc_"
PERSONAL_KEY_PREFIX = "phx_"
ENVIRONMENT_NAMESPACE = uuid.UUID("6f1c5a39-0d2e-4c51-9b7e-5a0e3c2d9f11")


async def ensure_indexes(db: Any) -> None:
    await EventRepository.ensure_indexes(db)
    await run_records.ensure_indexes(db)
    for collection in ("llm_datasets", "llm_dataset_items", "llm_evaluations", "llm_provider_keys"):
        await db[collection].create_index([("org_id", 1), ("environment_id", 1), ("deleted", 1), ("created_at", -1)],
                                          name="environment_recent")
    await db["llm_dataset_items"].create_index([("org_id", 1), ("environment_id", 1), ("dataset", 1),
                                                ("created_at", -1)], name="dataset_items_recent")


def _environment(doc: EnvironmentDocument) -> s.Environment:
    return s.Environment(id=doc["_id"], uuid=doc["uuid"], name=doc["name"], organization=doc["org_id"],
                         api_token=doc["project_token"], created_at=doc["created_at"], updated_at=doc["updated_at"])


async def create_environment(infra: AsyncDatabase[Document], org_id: str, creator: Document, name: str
                             ) -> s.Environment:
    now = utcnow()
    environment_id = await next_environment_id(infra)
    doc = EnvironmentDocument(
        _id=environment_id, uuid=str(uuid.uuid5(ENVIRONMENT_NAMESPACE, str(environment_id))),
        org_id=org_id, name=name, project_token=PROJECT_TOKEN_PREFIX + secrets.token_urlsafe(32),
        created_by=creator, created_at=now, updated_at=now)
    await infra[ENVIRONMENTS].insert_one(dict(doc))
    return _environment(doc)


async def list_environments(infra: AsyncDatabase[Document], org_id: str, limit: int, continuation_token: int
                            ) -> s.ListEnvironmentsResponse:
    cursor = infra[ENVIRONMENTS].find({"org_id": org_id}).sort("_id", 1).skip(continuation_token).limit(limit + 1)
    docs = cast(list[EnvironmentDocument], await cursor.to_list())
    has_more = len(docs) > limit
    return s.ListEnvironmentsResponse(environments=[_environment(d) for d in docs[:limit]], has_more=has_more,
                                      continuation_token=continuation_token + limit if has_more else None)


async def find_environment(infra: AsyncDatabase[Document], environment_id: int) -> EnvironmentDocument | None:
    return cast(EnvironmentDocument | None, await infra[ENVIRONMENTS].find_one({"_id": environment_id}))


async def environment_for_token(infra: AsyncDatabase[Document], token: str) -> EnvironmentDocument | None:
    if not token.startswith(PROJECT_TOKEN_PREFIX):
        return None
    return cast(EnvironmentDocument | None, await infra[ENVIRONMENTS].find_one({"project_token": token}))


def environment_view(doc: EnvironmentDocument) -> s.Environment:
    return _environment(doc)


async def first_environment(infra: AsyncDatabase[Document], org_id: str, creator: Document, name: str
                            ) -> s.Environment:
    """The organization's first environment, created if it has none (`amigo-api dev`)."""
    await ensure_infra_indexes(infra)
    found = await infra[ENVIRONMENTS].find_one({"org_id": org_id}, sort=[("_id", 1)])
    existing = cast(EnvironmentDocument | None, found)
    return _environment(existing) if existing else await create_environment(infra, org_id, creator, name)


# Personal API keys ----------------------------------------------------------------------------------

def _key(doc: PersonalApiKeyDocument) -> s.PersonalApiKey:
    return s.PersonalApiKey(id=doc["_id"], label=doc["label"], scopes=doc["scopes"], mask_value=doc["mask_value"],
                            created_at=doc["created_at"], last_used_at=doc["last_used_at"])


async def create_personal_key(infra: AsyncDatabase[Document], principal: Principal,
                              body: s.CreatePersonalApiKeyRequest) -> s.CreatedPersonalApiKey:
    """A key of the caller's own, acting as the caller in the caller's organization."""
    value = PERSONAL_KEY_PREFIX + secrets.token_urlsafe(32)
    doc = PersonalApiKeyDocument(
        _id=str(uuid.uuid4()), org_id=principal.org_id, user_id=principal.user_id, label=body.label,
        scopes=sorted(set(body.scopes)), secret_hash=hash_api_key_secret(value),
        mask_value=f"{value[:4]}...{value[-4:]}", created_at=utcnow(), last_used_at=None)
    await infra[PERSONAL_API_KEYS].insert_one(dict(doc))
    return s.CreatedPersonalApiKey(**_key(doc).model_dump(), value=value)


async def list_personal_keys(infra: AsyncDatabase[Document], principal: Principal) -> s.ListPersonalApiKeysResponse:
    docs = await infra[PERSONAL_API_KEYS].find(
        {"org_id": principal.org_id, "user_id": principal.user_id}).sort("created_at", 1).to_list()
    return s.ListPersonalApiKeysResponse(api_keys=[_key(cast(PersonalApiKeyDocument, d)) for d in docs])


async def delete_personal_key(infra: AsyncDatabase[Document], principal: Principal, key_id: str) -> None:
    deleted = await infra[PERSONAL_API_KEYS].delete_one(
        {"_id": key_id, "org_id": principal.org_id, "user_id": principal.user_id})
    if not deleted.deleted_count:
        raise NotFound("The personal API key does not exist.", error_code="personal_api_key_not_found")


async def key_for_value(infra: AsyncDatabase[Document], value: str) -> PersonalApiKeyDocument | None:
    doc = await infra[PERSONAL_API_KEYS].find_one_and_update(
        {"secret_hash": hash_api_key_secret(value)}, {"$set": {"last_used_at": utcnow()}})
    return cast(PersonalApiKeyDocument | None, doc)


# Scopes -----------------------------------------------------------------------------------------------

def scopes_allow(scopes: list[str], required: str) -> bool:
    """`*` allows everything; `<object>:write` also satisfies `<object>:read`."""
    if "*" in scopes or required in scopes:
        return True
    thing, _, action = required.partition(":")
    return action == "read" and f"{thing}:write" in scopes


# created_by -------------------------------------------------------------------------------------------

USER_NAMESPACE = uuid.UUID("0b7f4d2e-8c61-4f3a-a5d9-2e6c1b9f7a44")


async def user_basic(org: OrgDb, user_id: str) -> s.UserBasic | None:
    """PostHog's UserBasic from the Amigo user (null when the user no longer exists, as PostHog's SET_NULL).
    `id` is the Amigo user id, a string where PostHog's is an integer; `uuid` is derived from it, stably."""
    user = await find_user(org, user_id)
    if user is None:
        return None
    return s.UserBasic(id=user_id, uuid=str(uuid.uuid5(USER_NAMESPACE, f"{org.org_id}/{user_id}")),
                       distinct_id=user_id, first_name=user["first_name"], last_name=user["last_name"],
                       email=user["email"], is_email_verified=True)
