"""Rules for organizations, users, API keys, roles and temporary permission grants."""

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from amigo_api.core.auth import Principal
from amigo_api.core.clock import utcnow
from amigo_api.core.crypto import SecretBox, api_key_secret_matches, hash_api_key_secret, new_api_key_secret
from amigo_api.core.db import Clusters, Document, OrgDb, in_transaction
from amigo_api.core.errors import (
    AmigoError,
    Conflict,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    Unauthorized,
)
from amigo_api.core.ids import is_valid_org_id, new_id
from amigo_api.core.pagination import (
    and_all,
    next_token,
    parse_sort,
    tag_filters,
    tags_to_list,
    tags_to_strings,
)
from amigo_api.core.permissions import (
    KNOWN_PERMISSIONS,
    PermissionGrant,
    is_top_role,
    outranks,
    role_covers,
    stored_grants,
)
from amigo_api.core.schemas import duration_within
from amigo_api.core.security import TokenService
from amigo_api.core.sql_tables import SqlTable, register_table
from amigo_api.organizations import defaults, mailer
from amigo_api.organizations import schemas as s
from amigo_api.organizations.repository import (
    REPOSITORIES,
    APIKeyRepository,
    ExternalMemberRepository,
    OrganizationRepository,
    RoleRepository,
    TemporaryGrantRepository,
    UserRepository,
)
from amigo_api.settings import Settings

log = structlog.get_logger(__name__)

MAX_API_KEYS = 20
MAX_TEMPORARY_GRANT = timedelta(days=30)
RESERVED_ORG_IDS = frozenset({"admin", "api", "app", "amigo", "dashboard", "docs", "healthz", "infra",
                              "metrics", "readyz", "static", "www", "v1"})
SUPER_USER_EMAIL = "admin@amigo.ai"
USER_FIELDS = {"user_id": "_id", "email": "email", "role_id": "role_id"}
ROLE_FIELDS = {"role_id": "_id", "role_name": "name"}
API_KEY_FIELDS = {"key_id": "key_id", "role_id": "role_id", "creator_user_id": "creator.user_id"}
GRANT_FIELDS = {"user_id": "user_id", "permission_name": "permission_grant.permission_name",
                "tags": "tag_strings"}
USER_SORT = {"first_name": "first_name", "last_name": "last_name", "email": "email",
             "user_stats.num_conversations": "user_stats.num_conversations",
             "user_stats.num_messages": "user_stats.num_messages",
             "user_stats.last_message_time": "user_stats.last_message_time"}
GRANT_SORT = {"user_id": "user_id", "expires_at": "expires_at",
              "permission_grant.permission_name": "permission_grant.permission_name"}


class EmailDeliveryFailed(AmigoError):
    status_code = 502
    error_code = "email_delivery_failed"
    detail = "The invitation email could not be sent; the user was not created. Check SMTP and try again."


# Organizations --------------------------------------------------------------------------------------

_known_orgs: set[str] = set()


async def organization_exists(org: OrgDb) -> bool:
    if org.org_id in _known_orgs:
        return True
    if await OrganizationRepository(org).find_one({"_id": org.org_id}, {"_id": 1}) is None:
        return False
    _known_orgs.add(org.org_id)
    return True


async def require_organization(org: OrgDb) -> None:
    if not await organization_exists(org):
        raise NotFound("The specified organization does not exist.", error_code="organization_not_found")


async def ensure_indexes(db: Any) -> None:
    for repository in REPOSITORIES:
        await repository.ensure_indexes(db)


async def get_organization(org: OrgDb, principal: Principal | None) -> s.GetOrganizationResponse:
    doc = await OrganizationRepository(org).find_one({"_id": org.org_id}, {"images": 0})
    if doc is None:
        raise NotFound("The specified organization does not exist.", error_code="organization_not_found")
    detailed = principal is not None and principal.can("Organization:GetOrganizationDetails")
    return s.GetOrganizationResponse(
        **{k: doc[k] for k in ("org_id", "org_name", "title", "main_description", "sub_description",
                               "onboarding_instructions")},
        default_user_preferences=doc.get("default_user_preferences") if detailed else None,
        tenant_id=doc.get("tenant_id") if detailed else None,
    )


@dataclass(frozen=True)
class ProvisionedOrganization:
    org_id: str
    super_user_id: str
    role_ids: dict[str, str]


async def provision_organization(
    clusters: Clusters, org_id: str, cluster: str, details: dict[str, Any],
    external_admin: tuple[str, str] | None = None,
) -> ProvisionedOrganization:
    """Map the org to its cluster, then write the org, its default roles and super user in one transaction.
    The map entry is the lock against a concurrent create; it is removed again if the transaction fails."""
    if not is_valid_org_id(org_id):
        raise InvalidRequest(f"Organization IDs are 1 to 63 lowercase letters, digits, `-` and `_` (got {org_id!r}).",
                             error_code="invalid_organization_id")
    if org_id.lower() in RESERVED_ORG_IDS:
        raise InvalidRequest("The specified organization ID is reserved.", error_code="organization_id_reserved")
    await clusters.map_org(org_id, cluster)
    try:
        org = await clusters.org_db(org_id)
        await ensure_indexes(org.db)
        return await _write_organization(org, details, external_admin)
    except BaseException:
        await clusters.unmap_org(org_id)
        raise


async def _write_organization(org: OrgDb, details: dict[str, Any],
                              external_admin: tuple[str, str] | None) -> ProvisionedOrganization:
    now = utcnow()
    roles = [_role_doc(name, description, view, grants, now)
             for name, description, view, grants in defaults.default_roles()]
    role_ids = {r["name"]: r["_id"] for r in roles}
    super_user = _user_doc(first_name="Amigo", last_name="Administrator", email=SUPER_USER_EMAIL,
                           role_id=role_ids[defaults.SUPER_ADMIN_ROLE],
                           preferences=details.get("default_user_preferences") or s.Preferences().model_dump(),
                           now=now)
    tenant_id = uuid.uuid4().hex

    async def write(session: AsyncClientSession) -> None:
        await OrganizationRepository(org, session).insert_one(
            {"_id": org.org_id, "tenant_id": tenant_id, "created_at": now, "updated_at": now, **details})
        await RoleRepository(org, session).insert_many(roles)
        await UserRepository(org, session).insert_one(super_user)
        if external_admin is not None:
            home_org_id, user_id = external_admin
            await ExternalMemberRepository(org, session).insert_one(
                {"_id": new_id(), "home_org_id": home_org_id, "user_id": user_id,
                 "role_id": role_ids[defaults.SUPER_ADMIN_ROLE], "created_at": now})

    await in_transaction(org, write)
    _known_orgs.add(org.org_id)
    log.info("organization_created", org_id=org.org_id, cluster=org.cluster)
    return ProvisionedOrganization(org.org_id, super_user["_id"], role_ids)


async def create_organization(clusters: Clusters, caller: Principal, org_id: str, cluster: str,
                              body: s.CreateOrganizationRequest) -> s.CreateOrganizationResponse:
    for permission in ("Organization:CreateOrganization", "Role:CreateRole", "User:InviteUser"):
        caller.require(permission, {"org_id": org_id})
    super_admin = next(g for n, _, _, g in defaults.default_roles() if n == defaults.SUPER_ADMIN_ROLE)
    if not role_covers(caller.role_grants, super_admin):
        raise PermissionDenied("Creating an organization needs privileges equal to "
                               f"{defaults.SUPER_ADMIN_ROLE}.", error_code="insufficient_role")
    details = body.model_dump(exclude={"logo", "square_logo", "favicon", "signup_page_headshot"})
    details["images"] = {k: getattr(body, k) for k in ("logo", "square_logo", "favicon", "signup_page_headshot")}
    details["org_id"] = org_id
    await provision_organization(clusters, org_id, cluster, details,
                                 external_admin=(caller.issuer_org_id, caller.user_id))
    return s.CreateOrganizationResponse(org_id=org_id)


# Principals -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _CachedRole:
    id: str
    name: str
    grants: list[PermissionGrant]


_role_cache: dict[tuple[str, str], _CachedRole] = {}


async def _role(org: OrgDb, role_id: str) -> _CachedRole | None:
    """Roles are cached by id, with their grants parsed once: a role's name and grants never change in
    place (modify-role makes a new document when they change)."""
    key = (org.org_id, role_id)
    if key not in _role_cache:
        doc = await RoleRepository(org).by_id(role_id)
        if doc is None:
            return None
        if len(_role_cache) > 10_000:
            _role_cache.clear()
        _role_cache[key] = _CachedRole(doc["_id"], doc["name"], _grants(doc))
    return _role_cache[key]


def _grants(doc: Document) -> list[PermissionGrant]:
    return stored_grants(doc["permission_grants"])


async def load_principal(org: OrgDb, issuer: OrgDb, user_id: str, api_key_id: str
                         ) -> tuple[Principal, float] | None:
    now = utcnow()
    key = await APIKeyRepository(issuer).find_one({"key_id": api_key_id}, {"expires_at": 1})
    if key is None or key["expires_at"] <= now:
        raise Unauthorized("The API key this token was issued for was deleted or has expired; sign in again.",
                           error_code="api_key_revoked")
    issuer_org_id = issuer.org_id
    if issuer_org_id == org.org_id:
        member = await UserRepository(org).by_id(user_id)
    else:
        member = await ExternalMemberRepository(org).binding(issuer_org_id, user_id)
    if member is None:
        await require_organization(org)
        return None
    role = await _role(org, member["role_id"])
    if role is None:
        return None
    temporary = await TemporaryGrantRepository(org).active_for(user_id, now)
    valid_until = time.monotonic() + min(
        [(g["expires_at"] - now).total_seconds() for g in temporary] + [(key["expires_at"] - now).total_seconds()])
    principal = Principal(
        org_id=org.org_id, issuer_org_id=issuer_org_id, user_id=user_id, role_id=role.id,
        role_name=role.name, role_grants=role.grants,
        temporary_grants=stored_grants(g["permission_grant"] for g in temporary),
    )
    return principal, valid_until


async def _active_role(org: OrgDb, role_name: str) -> Document:
    role = await RoleRepository(org).active_by_name(role_name)
    if role is None:
        raise NotFound(f"Role {role_name!r} does not exist.", error_code="role_not_found")
    return role


def _require_outranks(principal: Principal, role_name: str, grants: list[PermissionGrant], action: str) -> None:
    if not principal.outranks(grants):
        raise PermissionDenied(f"{action} needs greater privileges than role {role_name!r}.",
                               error_code="insufficient_role")


def _require_outranks_role(principal: Principal, role: Document, action: str) -> None:
    _require_outranks(principal, role["name"], _grants(role), action)


async def require_outranks_role(org: OrgDb, principal: Principal, role_name: str, action: str) -> None:
    """403 unless the caller has greater privileges than the named role."""
    _require_outranks_role(principal, await _active_role(org, role_name), action)


# API keys and sign-in -------------------------------------------------------------------------------

async def create_api_key(org: OrgDb, principal: Principal, body: s.CreateAPIKeyRequest) -> s.CreateAPIKeyResponse:
    try:
        duration = duration_within(body.duration, timedelta(days=1), timedelta(days=90), "duration")
    except ValueError as exc:
        raise InvalidRequest(f"{exc}.", error_code="invalid_duration") from exc
    role = await _active_role(org, body.role_name)
    principal.require("Organization:CreateAPIKey", {"role_id": role["_id"], "role_name": role["name"]})
    _require_outranks_role(principal, role, "Creating an API key")
    doc, secret = await issue_api_key(org, name=body.name, role_id=role["_id"], duration=duration,
                                      creator=principal.user_info)
    return s.CreateAPIKeyResponse(api_key_id=doc["key_id"], api_key=secret, expires_at=doc["expires_at"])


async def issue_api_key(org: OrgDb, *, name: str | None, role_id: str, duration: timedelta,
                        creator: dict[str, str]) -> tuple[Document, str]:
    """Store a new key (its secret only as a hash) and return it with the secret, shown this once."""
    now = utcnow()
    secret = new_api_key_secret()
    doc = {"_id": new_id(), "key_id": str(uuid.uuid4()), "name": name, "secret_hash": hash_api_key_secret(secret),
           "role_id": role_id, "creator": creator, "created_at": now, "updated_at": now, "expires_at": now + duration}
    keys = APIKeyRepository(org)
    await keys.insert_one(doc)
    # Insert first, then count: two concurrent creates cannot both slip under the limit.
    if await keys.count_unexpired(now) > MAX_API_KEYS:
        await keys.delete_one({"_id": doc["_id"]})
        raise InvalidRequest(f"The organization has reached the maximum of {MAX_API_KEYS} API keys.",
                             error_code="api_key_limit_reached")
    return doc, secret


async def list_api_keys(org: OrgDb, principal: Principal) -> s.GetAPIKeysResponse:
    docs = await APIKeyRepository(org).find_all(principal.visible("Organization:GetAPIKey", API_KEY_FIELDS),
                                                sort=[("created_at", 1)], projection={"secret_hash": 0})
    return s.GetAPIKeysResponse(api_keys=[s.APIKeyInstance.model_validate(d) for d in docs])


async def delete_api_key(org: OrgDb, principal: Principal, key_id: str,
                         on_change: Callable[[str], None]) -> s.DeleteAPIKeyResponse:
    keys = APIKeyRepository(org)
    doc = await keys.find_one({"key_id": key_id}, {"secret_hash": 0})
    if doc is None:
        raise NotFound("The specified API key does not exist.", error_code="api_key_not_found")
    principal.require("Organization:DeleteAPIKey",
                      {"key_id": key_id, "role_id": doc["role_id"], "creator_user_id": doc["creator"]["user_id"]})
    await keys.delete_one({"_id": doc["_id"]})
    on_change(org.org_id)
    return s.DeleteAPIKeyResponse(deleted_key_id=key_id)


async def sign_in_with_api_key(org: OrgDb, tokens: TokenService, key_id: str, secret: str,
                               user_id: str) -> s.SigninWithAPIKeyResponse:
    key = await APIKeyRepository(org).find_one({"key_id": key_id})
    if key is None:
        await require_organization(org)
    if key is None or key["expires_at"] <= utcnow() or not api_key_secret_matches(secret, key["secret_hash"]):
        raise Unauthorized("API key not found, is incorrect, or the requested user is not found.")
    user = await UserRepository(org).by_id(user_id)
    key_role = await _role(org, key["role_id"])
    user_role = await _role(org, user["role_id"]) if user else None
    if user is None or key_role is None or user_role is None:
        raise Unauthorized("API key not found, is incorrect, or the requested user is not found.")
    if not outranks(key_role.grants, user_role.grants):
        raise Unauthorized("The API key's role does not permit signing in this user.",
                           error_code="api_key_role_too_low")
    token, expires_at = tokens.issue(org.org_id, user_id, key_id)
    return s.SigninWithAPIKeyResponse(id_token=token, expires_at=expires_at)


# Users ----------------------------------------------------------------------------------------------

def _user_doc(*, first_name: str, last_name: str, email: str, role_id: str, preferences: Document, now: Any,
              nonsensitive: dict[str, str] | None = None, sensitive: dict[str, str] | None = None) -> Document:
    return {"_id": new_id(), "first_name": first_name, "last_name": last_name, "email": email.lower(),
            "role_id": role_id, "preferences": preferences, "nonsensitive_variables": nonsensitive or {},
            "sensitive_variables": sensitive or {}, "status": "unverified", "enable_actions_access": False,
            "additional_context": [],
            "user_stats": {"num_conversations": 0, "num_messages": 0, "last_message_time": None},
            "created_at": now, "updated_at": now}


async def create_user(org: OrgDb, *, first_name: str, last_name: str, email: str, role_id: str,
                      preferences: Document | None = None, nonsensitive: dict[str, str] | None = None,
                      sensitive: dict[str, str] | None = None) -> Document:
    if preferences is None:
        org_doc = await OrganizationRepository(org).find_one({"_id": org.org_id}, {"default_user_preferences": 1})
        preferences = (org_doc or {}).get("default_user_preferences") or s.Preferences().model_dump()
    doc = _user_doc(first_name=first_name, last_name=last_name, email=email, role_id=role_id,
                    preferences=preferences, now=utcnow(), nonsensitive=nonsensitive, sensitive=sensitive)
    try:
        return await UserRepository(org).insert_one(doc)
    except DuplicateKeyError as exc:
        raise Conflict("A user with the same email already exists in this organization.",
                       error_code="user_exists") from exc


async def invite_user(org: OrgDb, principal: Principal, body: s.CreateInvitedUserRequest, settings: Settings,
                      box: SecretBox) -> s.CreateInvitedUserResponse:
    role = await _active_role(org, body.role_name)
    principal.require("User:InviteUser", {"email": str(body.email).lower(), "role_id": role["_id"],
                                          "role_name": role["name"]})
    _require_outranks_role(principal, role, "Inviting a user")
    user = await create_user(
        org, first_name=body.first_name, last_name=body.last_name, email=str(body.email), role_id=role["_id"],
        preferences=body.user_preferences.model_dump() if body.user_preferences else None,
        nonsensitive=body.nonsensitive_user_variables,
        sensitive={k: box.encrypt(v) for k, v in body.sensitive_user_variables.items()},
    )
    if body.login_link is not None:
        org_doc = await OrganizationRepository(org).find_one({"_id": org.org_id}, {"org_name": 1})
        try:
            await mailer.send_invitation(settings, to=user["email"], first_name=user["first_name"],
                                         org_name=(org_doc or {}).get("org_name", org.org_id), link=body.login_link)
        except OSError as exc:
            await UserRepository(org).delete_one({"_id": user["_id"]})
            log.warning("invitation_email_failed", error=str(exc))
            raise EmailDeliveryFailed() from exc
    return s.CreateInvitedUserResponse(user_id=user["_id"], verify_link=body.login_link)


def _user_instance(doc: Document) -> s.UserInstance:
    return s.UserInstance(org_id=doc["org_id"], user_id=doc["_id"], first_name=doc["first_name"],
                          last_name=doc["last_name"], email=doc["email"], user_stats=doc["user_stats"],
                          role=doc["role_id"], preferences=doc["preferences"],
                          nonsensitive_variables=doc["nonsensitive_variables"],
                          sensitive_variables=sorted(doc["sensitive_variables"]),
                          enable_actions_access=doc.get("enable_actions_access", False))


def _user_attributes(doc: Document) -> dict[str, str]:
    return {"user_id": doc["_id"], "email": doc["email"], "role_id": doc["role_id"]}


async def _user(org: OrgDb, user_id: str) -> Document:
    user = await UserRepository(org).by_id(user_id)
    if user is None:
        raise NotFound("The specified user does not exist.", error_code="user_not_found")
    return user


_PREFERENCES = ("enable_response_recommendation", "conversations_visible_to_admins", "user_model_visible_to_admins")


def _user_changes(body: s.UpdateUserInfoRequest) -> Document:
    """`null` leaves names and flags as they are; for the language and time zone `{}` does, `null` erases."""
    changes: Document = {name: getattr(body, name) for name in ("first_name", "last_name", "additional_context")
                         if getattr(body, name) is not None}
    changes.update({f"preferences.{name}": getattr(body, name) for name in _PREFERENCES
                    if getattr(body, name) is not None})
    changes.update({f"preferences.{name}": getattr(body, name) for name in ("preferred_language", "timezone")
                    if getattr(body, name) != {}})
    return changes


async def update_user(org: OrgDb, principal: Principal, user_id: str, body: s.UpdateUserInfoRequest) -> None:
    user = await _user(org, user_id)
    principal.require("User:UpdateUserInfo", _user_attributes(user))
    changes = _user_changes(body)
    if changes:
        await UserRepository(org).update_one({"_id": user_id}, {"$set": {**changes, "updated_at": utcnow()}})


async def delete_user(org: OrgDb, principal: Principal, user_id: str, on_change: Callable[[str], None]) -> None:
    """Only a user whose role the caller outranks; never the organization's last top-role holder."""
    user = await _user(org, user_id)
    principal.require("User:DeleteUser", _user_attributes(user))
    role = await _role(org, user["role_id"])
    if role is not None and not principal.outranks(role.grants):
        raise PermissionDenied("Deleting this user needs greater privileges than the user's role.",
                               error_code="insufficient_role")

    async def remove(session: AsyncClientSession) -> None:
        await OrganizationRepository(org, session).claim({"_id": org.org_id})
        if not await UserRepository(org, session).delete_one({"_id": user_id}):
            raise NotFound("The specified user does not exist.", error_code="user_not_found")
        await TemporaryGrantRepository(org, session).delete_many({"user_id": user_id})
        await _require_a_top_role_holder(org, session)

    await in_transaction(org, remove)
    on_change(org.org_id)


async def get_user_model(org: OrgDb, principal: Principal, user_id: str) -> s.GetUserModelResponse:
    """User models come from conversations; until there are some the list is empty."""
    user = await _user(org, user_id)
    principal.require("User:GetUserModel", _user_attributes(user))
    if principal.user_id != user_id and not user["preferences"].get("user_model_visible_to_admins", True):
        raise PermissionDenied("This user keeps their user model private.", error_code="user_model_hidden")
    return s.GetUserModelResponse(user_models=[], additional_context=user.get("additional_context", []))


async def list_users(org: OrgDb, principal: Principal, *, user_ids: list[str], emails: list[str], limit: int,
                     continuation_token: int, sort_by: list[str]) -> s.GetUsersResponse:
    sort = parse_sort(sort_by, USER_SORT)
    query = and_all(
        {"_id": {"$in": user_ids}} if user_ids else None,
        {"email": {"$in": [e.lower() for e in emails]}} if emails else None,
        principal.visible("User:GetUserInfo", USER_FIELDS),
    )
    docs, has_more = await UserRepository(org).find_page(query, sort=sort, skip=continuation_token, limit=limit)
    return s.GetUsersResponse(users=[_user_instance(d) for d in docs], has_more=has_more,
                              continuation_token=next_token(continuation_token, len(docs), has_more))


# Roles ----------------------------------------------------------------------------------------------

def _check_permission_names(grants: list[PermissionGrant]) -> None:
    unknown = sorted({g.permission_name for g in grants} - KNOWN_PERMISSIONS)
    if unknown:
        raise InvalidRequest(f"Unknown permission name(s): {', '.join(unknown)}.", error_code="unknown_permission")


def _role_doc(name: str, description: str, frontend_view: str, grants: list[PermissionGrant], now: Any) -> Document:
    return {"_id": new_id(), "name": name, "description": description, "frontend_view": frontend_view,
            "permission_grants": [g.model_dump() for g in grants], "is_active": True, "expires_at": None,
            "created_at": now, "updated_at": now}


async def insert_role(org: OrgDb, name: str, description: str, frontend_view: str,
                      grants: list[PermissionGrant]) -> str:
    """Store a new active role; 409 if the name is taken. Returns its ID."""
    _check_permission_names(grants)
    doc = _role_doc(name, description, frontend_view, grants, utcnow())
    try:
        await RoleRepository(org).insert_one(doc)
    except DuplicateKeyError as exc:
        raise Conflict("A role with the same name already exists in this organization.",
                       error_code="role_exists") from exc
    return str(doc["_id"])


async def create_role(org: OrgDb, principal: Principal, body: s.CreateRoleRequest) -> s.RoleIdResponse:
    principal.require("Role:CreateRole", {"role_name": body.role_name})
    _check_permission_names(body.permission_grants)
    _require_outranks(principal, body.role_name, body.permission_grants, "Creating a role")
    return s.RoleIdResponse(role_id=await insert_role(org, body.role_name, body.description, body.frontend_view,
                                                      body.permission_grants))


async def list_roles(org: OrgDb, principal: Principal, *, ids: list[str], names: list[str],
                     return_permission_grants: bool) -> s.GetRolesResponse:
    query = and_all({"is_active": True}, {"_id": {"$in": ids}} if ids else None,
                    {"name": {"$in": names}} if names else None, principal.visible("Role:GetRole", ROLE_FIELDS))
    docs = await RoleRepository(org).find_all(query, sort=[("created_at", 1), ("_id", 1)])
    return s.GetRolesResponse(roles=[
        s.RoleInstance(id=d["_id"], name=d["name"], description=d["description"], frontend_view=d["frontend_view"],
                       permission_grants=_grants(d) if return_permission_grants else [])
        for d in docs])


async def modify_role(org: OrgDb, principal: Principal, role_name: str, body: s.ModifyRoleRequest,
                      on_change: Callable[[str], None]) -> s.RoleIdResponse:
    """The caller must outrank the role as it is and as it will be."""
    role = await _active_role(org, role_name)
    principal.require("Role:ModifyRole", {"role_id": role["_id"], "role_name": role["name"]})
    _require_outranks_role(principal, role, "Changing a role")
    now = utcnow()
    immutable_change = (body.permission_grants is not None and [g.model_dump() for g in body.permission_grants]
                        != role["permission_grants"]) or (body.frontend_view not in (None, role["frontend_view"]))
    if not immutable_change:
        if body.description is not None:
            await RoleRepository(org).update_one({"_id": role["_id"]},
                                                 {"$set": {"description": body.description, "updated_at": now}})
        return s.RoleIdResponse(role_id=role["_id"])
    grants = body.permission_grants if body.permission_grants is not None else _grants(role)
    _check_permission_names(grants)
    _require_outranks(principal, role["name"], grants, "Changing a role's permissions")
    new_role = _role_doc(role["name"], body.description or role["description"],
                         body.frontend_view or role["frontend_view"], grants, now)

    async def replace(session: AsyncClientSession) -> None:
        await OrganizationRepository(org, session).claim({"_id": org.org_id})
        roles = RoleRepository(org, session)
        if await roles.claim({"_id": role["_id"], "is_active": True}) is None:
            raise Conflict(f"Role {role_name!r} was changed concurrently; read it again and retry.",
                           error_code="role_changed_concurrently")
        await roles.update_one({"_id": role["_id"]},
                               {"$set": {"is_active": False, "expires_at": now + timedelta(days=1), "updated_at": now}})
        await roles.insert_one(new_role)
        for repository in (UserRepository(org, session), APIKeyRepository(org, session),
                           ExternalMemberRepository(org, session)):
            await repository.update_many({"role_id": role["_id"]}, {"$set": {"role_id": new_role["_id"]}})
        await _require_a_top_role_holder(org, session)

    await in_transaction(org, replace)
    on_change(org.org_id)
    return s.RoleIdResponse(role_id=new_role["_id"])


async def assign_role(org: OrgDb, principal: Principal, role_name: str, user_id: str,
                      on_change: Callable[[str], None]) -> s.RoleIdResponse:
    role = await _active_role(org, role_name)
    _require_outranks_role(principal, role, "Assigning a role")
    user = await _user(org, user_id)
    current = await _role(org, user["role_id"])
    if current is not None and not principal.outranks(current.grants):
        raise PermissionDenied("Changing this user's role needs greater privileges than the user's current role.",
                               error_code="insufficient_role")

    async def assign(session: AsyncClientSession) -> None:
        await OrganizationRepository(org, session).claim({"_id": org.org_id})
        await UserRepository(org, session).update_one({"_id": user_id},
                                                      {"$set": {"role_id": role["_id"], "updated_at": utcnow()}})
        await _require_a_top_role_holder(org, session)

    await in_transaction(org, assign)
    on_change(org.org_id)
    return s.RoleIdResponse(role_id=role["_id"])


async def _require_a_top_role_holder(org: OrgDb, session: AsyncClientSession) -> None:
    """Someone must keep the organization's top role, or no one could ever manage it again. Callers claim the
    organization document first, so two demotions cannot each see the other's victim still on top."""
    roles = await RoleRepository(org, session).find_all({"is_active": True}, projection={"permission_grants": 1})
    top_ids = [r["_id"] for r in roles if is_top_role(_grants(r))]
    holders = await UserRepository(org, session).count({"role_id": {"$in": top_ids}})
    holders += await ExternalMemberRepository(org, session).count({"role_id": {"$in": top_ids}})
    if holders == 0:
        raise Conflict(f"This change would leave no user with the organization's top role "
                       f"({defaults.SUPER_ADMIN_ROLE}); give it to someone else first.",
                       error_code="last_top_role_holder")


# Temporary permission grants ------------------------------------------------------------------------

async def create_temporary_grant(org: OrgDb, principal: Principal, body: s.CreateTemporaryPermissionGrantRequest,
                                 on_change: Callable[[str], None]) -> s.CreateTemporaryPermissionGrantResponse:
    grant = body.permission_grant
    _check_permission_names([grant])
    principal.require("Role:CreateTemporaryPermissionGrant",
                      {"user_id": body.user_id, "permission_name": grant.permission_name})
    if not role_covers(principal.role_grants, [grant]):
        raise PermissionDenied("A temporary grant can give only what the granter's own role allows.",
                               error_code="grant_exceeds_role")
    try:
        duration = duration_within(body.duration, timedelta(seconds=1), MAX_TEMPORARY_GRANT, "duration")
    except ValueError as exc:
        raise InvalidRequest(f"{exc}.", error_code="invalid_duration") from exc
    await _user(org, body.user_id)
    now = utcnow()
    doc: Document = {"_id": new_id(), "user_id": body.user_id, "permission_grant": grant.model_dump(),
           "justification": body.justification, "creator": {"org_id": principal.issuer_org_id,
                                                            "user_id": principal.user_id},
           "tags": tags_to_list(body.tags), "tag_strings": tags_to_strings(body.tags),
           "expires_at": now + duration, "created_at": now, "updated_at": now}
    await TemporaryGrantRepository(org).insert_one(doc)
    on_change(org.org_id)
    return s.CreateTemporaryPermissionGrantResponse(temporary_permission_grant_id=doc["_id"],
                                                    expires_at=doc["expires_at"])


async def list_temporary_grants(org: OrgDb, principal: Principal, *, ids: list[str], user_ids: list[str],
                                permission_name: str | None, is_expired: bool | None, creators: list[str],
                                tags: list[str], limit: int, continuation_token: int,
                                sort_by: list[str]) -> s.GetTemporaryPermissionGrantsResponse:
    sort = parse_sort(sort_by, GRANT_SORT)
    now = utcnow()
    creator_pairs = [c.split(",", 1) for c in creators]
    query = and_all(
        {"_id": {"$in": ids}} if ids else None,
        {"user_id": {"$in": user_ids}} if user_ids else None,
        {"permission_grant.permission_name": permission_name} if permission_name else None,
        None if is_expired is None else {"expires_at": {"$lte": now} if is_expired else {"$gt": now}},
        {"$or": [{"creator.org_id": p[0], "creator.user_id": p[-1]} for p in creator_pairs]} if creators else None,
        *tag_filters(tags),
        principal.visible("Role:GetTemporaryPermissionGrant", GRANT_FIELDS),
    )
    docs, has_more = await TemporaryGrantRepository(org).find_page(query, sort=sort, skip=continuation_token,
                                                                   limit=limit)
    grants = [s.TemporaryPermissionGrant.model_validate({**d, "tags": {t["key"]: t["value"] for t in d["tags"]}})
              for d in docs]
    return s.GetTemporaryPermissionGrantsResponse(
        temporary_permission_grants=grants, has_more=has_more,
        continuation_token=next_token(continuation_token, len(docs), has_more))


register_table(SqlTable("users", UserRepository.collection_name, {
    "user_id": "_id", "first_name": "first_name", "last_name": "last_name", "email": "email", "role_id": "role_id",
    "status": "status", "preferences": "preferences", "nonsensitive_variables": "nonsensitive_variables",
    "user_stats": "user_stats", "created_at": "created_at", "updated_at": "updated_at"}))
register_table(SqlTable("roles", RoleRepository.collection_name, {
    "role_id": "_id", "name": "name", "description": "description", "frontend_view": "frontend_view",
    "permission_grants": "permission_grants", "is_active": "is_active", "expires_at": "expires_at",
    "created_at": "created_at", "updated_at": "updated_at"}))
