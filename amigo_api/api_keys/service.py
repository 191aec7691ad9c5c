"""Rules for API keys and for signing in with one."""

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from amigo_api.api_keys import schemas as s
from amigo_api.api_keys.repository import APIKeyDocument, APIKeyRepository
from amigo_api.core.auth import Principal
from amigo_api.core.clock import utcnow
from amigo_api.core.crypto import api_key_secret_matches, hash_api_key_secret, new_api_key_secret
from amigo_api.core.db import OrgDb
from amigo_api.core.errors import InvalidRequest, NotFound, Unauthorized
from amigo_api.core.ids import new_id
from amigo_api.core.permissions import outranks
from amigo_api.core.references import RoleHolders, register_role_holders
from amigo_api.core.schemas import duration_within
from amigo_api.core.security import TokenService
from amigo_api.organizations.service import require_organization
from amigo_api.roles import service as roles
from amigo_api.users.service import find_user

MAX_API_KEYS = 20
API_KEY_FIELDS = {"key_id": "key_id", "role_id": "role_id", "creator_user_id": "creator.user_id"}
SIGN_IN_REFUSED = "API key not found, is incorrect, or the requested user is not found."


async def ensure_indexes(db: Any) -> None:
    await APIKeyRepository.ensure_indexes(db)


async def create_api_key(org: OrgDb, principal: Principal, body: s.CreateAPIKeyRequest) -> s.CreateAPIKeyResponse:
    try:
        duration = duration_within(body.duration, timedelta(days=1), timedelta(days=90), "duration")
    except ValueError as exc:
        raise InvalidRequest(f"{exc}.", error_code="invalid_duration") from exc
    role = await roles.active_role(org, body.role_name)
    principal.require("Organization:CreateAPIKey", {"role_id": role["_id"], "role_name": role["name"]})
    roles.require_outranks_role(principal, role, "Creating an API key")
    doc, secret = await issue_api_key(org, name=body.name, role_id=role["_id"], duration=duration,
                                      creator=principal.user_info)
    return s.CreateAPIKeyResponse(api_key_id=doc["key_id"], api_key=secret, expires_at=doc["expires_at"])


async def issue_api_key(org: OrgDb, *, name: str | None, role_id: str, duration: timedelta,
                        creator: dict[str, str]) -> tuple[APIKeyDocument, str]:
    """Store a new key (its secret only as a hash) and return it with the secret, shown this once."""
    now = utcnow()
    secret = new_api_key_secret()
    doc = APIKeyDocument(_id=new_id(), key_id=str(uuid.uuid4()), name=name, secret_hash=hash_api_key_secret(secret),
                         role_id=role_id, creator=creator, created_at=now, updated_at=now, expires_at=now + duration)
    keys = APIKeyRepository(org)
    await keys.store(doc)
    # Insert first, then count: two concurrent creates cannot both slip under the limit.
    if await keys.count_unexpired(now) > MAX_API_KEYS:
        await keys.delete_one({"_id": doc["_id"]})
        raise InvalidRequest(f"The organization has reached the maximum of {MAX_API_KEYS} API keys.",
                             error_code="api_key_limit_reached")
    return doc, secret


async def find_api_key(org: OrgDb, key_id: str) -> APIKeyDocument | None:
    return await APIKeyRepository(org).by_key_id(key_id)


async def list_api_keys(org: OrgDb, principal: Principal) -> s.GetAPIKeysResponse:
    docs = await APIKeyRepository(org).find_all(principal.visible("Organization:GetAPIKey", API_KEY_FIELDS),
                                                sort=[("created_at", 1)], projection={"secret_hash": 0})
    return s.GetAPIKeysResponse(api_keys=[s.APIKeyInstance.model_validate(d) for d in docs])


async def delete_api_key(org: OrgDb, principal: Principal, key_id: str,
                         on_change: Callable[[str], None]) -> s.DeleteAPIKeyResponse:
    keys = APIKeyRepository(org)
    doc = await keys.by_key_id(key_id)
    if doc is None:
        raise NotFound("The specified API key does not exist.", error_code="api_key_not_found")
    principal.require("Organization:DeleteAPIKey",
                      {"key_id": key_id, "role_id": doc["role_id"], "creator_user_id": doc["creator"]["user_id"]})
    await keys.delete_one({"_id": doc["_id"]})
    on_change(org.org_id)
    return s.DeleteAPIKeyResponse(deleted_key_id=key_id)


async def sign_in_with_api_key(org: OrgDb, tokens: TokenService, key_id: str, secret: str,
                               user_id: str) -> s.SigninWithAPIKeyResponse:
    """A token for the user, if the key is valid and its role outranks the user's."""
    key = await find_api_key(org, key_id)
    if key is None:
        await require_organization(org)
    if key is None or key["expires_at"] <= utcnow() or not api_key_secret_matches(secret, key["secret_hash"]):
        raise Unauthorized(SIGN_IN_REFUSED)
    user = await find_user(org, user_id)
    key_role = await roles.get_role(org, key["role_id"])
    user_role = await roles.get_role(org, user["role_id"]) if user else None
    if user is None or key_role is None or user_role is None:
        raise Unauthorized(SIGN_IN_REFUSED)
    if not outranks(roles.grants_of(key_role), roles.grants_of(user_role)):
        raise Unauthorized("The API key's role does not permit signing in this user.",
                           error_code="api_key_role_too_low")
    token, expires_at = tokens.issue(org.org_id, user_id, key_id)
    return s.SigninWithAPIKeyResponse(id_token=token, expires_at=expires_at)


async def _reassign_keys(org: OrgDb, session: AsyncClientSession, old_role_id: str, new_role_id: str) -> None:
    await APIKeyRepository(org, session).update_many({"role_id": old_role_id}, {"$set": {"role_id": new_role_id}})


# API keys move with a replaced role but do not count as holders: a key cannot manage the organization alone.
register_role_holders(RoleHolders("api_keys", _reassign_keys))
