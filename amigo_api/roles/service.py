"""Rules for roles: creating, listing and replacing them, comparing a caller's privileges with a role's, and
keeping someone in the organization's top role."""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from amigo_api.core.auth import Principal
from amigo_api.core.clock import utcnow
from amigo_api.core.db import OrgDb, in_transaction
from amigo_api.core.errors import Conflict, InvalidRequest, NotFound, PermissionDenied, found
from amigo_api.core.ids import new_id
from amigo_api.core.pagination import and_all
from amigo_api.core.permissions import KNOWN_PERMISSIONS, PermissionGrant, is_top_role, stored_grants
from amigo_api.core.references import role_holders
from amigo_api.core.sql_tables import BOOLEAN, JSON, TEXT, TIMESTAMP, Column, SqlTable, register_table
from amigo_api.organizations.service import claim_organization
from amigo_api.roles import defaults
from amigo_api.roles import schemas as s
from amigo_api.roles.repository import RoleDocument, RoleRepository, TemporaryGrantRepository
from amigo_api.roles.schemas import FrontendView

ROLE_FIELDS = {"role_id": "_id", "role_name": "name"}
REPLACED_ROLE_LIFETIME = timedelta(days=1)


async def ensure_indexes(db: Any) -> None:
    for repository in (RoleRepository, TemporaryGrantRepository):
        await repository.ensure_indexes(db)


def grants_of(role: RoleDocument) -> list[PermissionGrant]:
    return stored_grants(role["permission_grants"])


def check_permission_names(grants: list[PermissionGrant]) -> None:
    unknown = sorted({g.permission_name for g in grants} - KNOWN_PERMISSIONS)
    if unknown:
        raise InvalidRequest(f"Unknown permission name(s): {', '.join(unknown)}.", error_code="unknown_permission")


def role_document(name: str, description: str, frontend_view: FrontendView, grants: list[PermissionGrant],
                  now: datetime) -> RoleDocument:
    return RoleDocument(_id=new_id(), name=name, description=description, frontend_view=frontend_view,
                        permission_grants=[g.model_dump() for g in grants], is_active=True, expires_at=None,
                        created_at=now, updated_at=now)


def default_role_documents(now: datetime) -> list[RoleDocument]:
    return [role_document(name, description, view, grants, now)
            for name, description, view, grants in defaults.default_roles()]


async def store_roles(org: OrgDb, session: AsyncClientSession, roles: list[RoleDocument]) -> None:
    await RoleRepository(org, session).store_many(roles)


async def insert_role(org: OrgDb, name: str, description: str, frontend_view: FrontendView,
                      grants: list[PermissionGrant]) -> str:
    """Store a new active role; 409 if the name is taken. Returns its ID."""
    check_permission_names(grants)
    doc = role_document(name, description, frontend_view, grants, utcnow())
    try:
        await RoleRepository(org).store(doc)
    except DuplicateKeyError as exc:
        raise Conflict("A role with the same name already exists in this organization.",
                       error_code="role_exists") from exc
    return doc["_id"]


async def get_role(org: OrgDb, role_id: str) -> RoleDocument | None:
    return await RoleRepository(org).get(role_id)


async def find_active_role(org: OrgDb, role_name: str) -> RoleDocument | None:
    return await RoleRepository(org).active_by_name(role_name)


async def active_role(org: OrgDb, role_name: str) -> RoleDocument:
    return found(await find_active_role(org, role_name),
                 NotFound(f"Role {role_name!r} does not exist.", error_code="role_not_found"))


def require_outranks(principal: Principal, role_name: str, grants: list[PermissionGrant], action: str) -> None:
    """403 unless the caller has greater privileges than the role (`action` names what needs them)."""
    if not principal.outranks(grants):
        raise PermissionDenied(f"{action} needs greater privileges than role {role_name!r}.",
                               error_code="insufficient_role")


def require_outranks_role(principal: Principal, role: RoleDocument, action: str) -> None:
    require_outranks(principal, role["name"], grants_of(role), action)


async def require_outranks_named_role(org: OrgDb, principal: Principal, role_name: str, action: str) -> None:
    require_outranks_role(principal, await active_role(org, role_name), action)


async def create_role(org: OrgDb, principal: Principal, body: s.CreateRoleRequest) -> s.RoleIdResponse:
    principal.require("Role:CreateRole", {"role_name": body.role_name})
    check_permission_names(body.permission_grants)
    require_outranks(principal, body.role_name, body.permission_grants, "Creating a role")
    return s.RoleIdResponse(role_id=await insert_role(org, body.role_name, body.description, body.frontend_view,
                                                      body.permission_grants))


async def list_roles(org: OrgDb, principal: Principal, *, ids: list[str], names: list[str],
                     return_permission_grants: bool) -> s.GetRolesResponse:
    query = and_all({"is_active": True}, {"_id": {"$in": ids}} if ids else None,
                    {"name": {"$in": names}} if names else None, principal.visible("Role:GetRole", ROLE_FIELDS))
    docs = await RoleRepository(org).load_all(query, sort=[("created_at", 1), ("_id", 1)])
    return s.GetRolesResponse(roles=[
        s.RoleInstance(id=d["_id"], name=d["name"], description=d["description"], frontend_view=d["frontend_view"],
                       permission_grants=grants_of(d) if return_permission_grants else [])
        for d in docs])


def _changes_grants_or_view(role: RoleDocument, body: s.ModifyRoleRequest) -> bool:
    """Whether the change needs a new role document (grants and view never change in place)."""
    new_grants = body.permission_grants is not None and [g.model_dump() for g in body.permission_grants] \
        != role["permission_grants"]
    return new_grants or body.frontend_view not in (None, role["frontend_view"])


async def modify_role(org: OrgDb, principal: Principal, role_name: str, body: s.ModifyRoleRequest,
                      on_change: Callable[[str], None]) -> s.RoleIdResponse:
    """The caller must outrank the role as it is and as it will be."""
    role = await active_role(org, role_name)
    principal.require("Role:ModifyRole", {"role_id": role["_id"], "role_name": role["name"]})
    require_outranks_role(principal, role, "Changing a role")
    now = utcnow()
    if not _changes_grants_or_view(role, body):
        if body.description is not None:
            await RoleRepository(org).update_one({"_id": role["_id"]},
                                                 {"$set": {"description": body.description, "updated_at": now}})
        return s.RoleIdResponse(role_id=role["_id"])
    grants = body.permission_grants if body.permission_grants is not None else grants_of(role)
    check_permission_names(grants)
    require_outranks(principal, role["name"], grants, "Changing a role's permissions")
    new_role = role_document(role["name"], body.description or role["description"],
                             body.frontend_view or role["frontend_view"], grants, now)

    async def replace(session: AsyncClientSession) -> None:
        await claim_organization(org, session)
        roles = RoleRepository(org, session)
        if await roles.claim({"_id": role["_id"], "is_active": True}) is None:
            raise Conflict(f"Role {role_name!r} was changed concurrently; read it again and retry.",
                           error_code="role_changed_concurrently")
        await roles.update_one({"_id": role["_id"]}, {"$set": {
            "is_active": False, "expires_at": now + REPLACED_ROLE_LIFETIME, "updated_at": now}})
        await roles.store(new_role)
        for holders in role_holders():
            await holders.reassign(org, session, role["_id"], new_role["_id"])
        await require_a_top_role_holder(org, session)

    await in_transaction(org, replace)
    on_change(org.org_id)
    return s.RoleIdResponse(role_id=new_role["_id"])


async def require_a_top_role_holder(org: OrgDb, session: AsyncClientSession) -> None:
    """Someone must keep the organization's top role, or no one could ever manage it again. Callers claim the
    organization document first, so two demotions cannot each see the other's victim still on top."""
    roles = await RoleRepository(org, session).find_all({"is_active": True}, projection={"permission_grants": 1})
    top_ids = [r["_id"] for r in roles if is_top_role(stored_grants(r["permission_grants"]))]
    holders = 0
    for kind in role_holders():
        if kind.count is not None:
            holders += await kind.count(org, session, top_ids)
    if holders == 0:
        raise Conflict(f"This change would leave no user with the organization's top role "
                       f"({defaults.SUPER_ADMIN_ROLE}); give it to someone else first.",
                       error_code="last_top_role_holder")


register_table(SqlTable("roles", RoleRepository.collection_name, {
    "role_id": Column(TEXT, "_id"), "name": TEXT, "description": TEXT, "frontend_view": TEXT,
    "permission_grants": JSON, "is_active": BOOLEAN, "expires_at": TIMESTAMP, "created_at": TIMESTAMP,
    "updated_at": TIMESTAMP}))


async def grant_added_permissions(db: Any) -> int:
    """Give the default roles of every organization in `db` the permissions added since they were made
    (`defaults.ADDED_PERMISSIONS`), so the top role stays the top role. Idempotent; custom roles (any other
    name) are untouched. Returns how many roles changed."""
    changed = 0
    for role_name, names in defaults.added_permissions_by_role().items():
        for name in names:
            result = await db[RoleRepository.collection_name].update_many(
                {"name": role_name, "is_active": True, "permission_grants.permission_name": {"$ne": name}},
                {"$push": {"permission_grants": {"permission_name": name, "conditions": {}}}})
            changed += result.modified_count
    return changed
