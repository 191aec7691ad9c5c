"""MongoDB access for roles and temporary permission grants, with their stored shapes."""

from datetime import datetime
from typing import Any, Literal, TypedDict

from pymongo import ASCENDING, IndexModel

from amigo_api.core.pagination import TagDocument
from amigo_api.core.repository import TypedRepository


class RoleDocument(TypedDict):
    """A role's name, view and grants never change in place: modify-role stores a new document with the same
    name, and the old one (no longer active) expires a day later."""

    _id: str
    name: str
    description: str
    frontend_view: Literal["client", "admin"]
    permission_grants: list[dict[str, Any]]
    is_active: bool
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


class TemporaryGrantDocument(TypedDict):
    _id: str
    user_id: str
    permission_grant: dict[str, Any]
    justification: str
    creator: dict[str, str]
    tags: list[TagDocument]
    tag_strings: list[str]
    expires_at: datetime
    created_at: datetime
    updated_at: datetime


class RoleRepository(TypedRepository[RoleDocument]):
    collection_name = "roles"
    indexes = [
        IndexModel([("org_id", ASCENDING), ("name", ASCENDING)], unique=True, name="active_role_name",
                   partialFilterExpression={"is_active": True}),
        IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="role_expiry"),
    ]

    async def active_by_name(self, name: str) -> RoleDocument | None:
        return await self.load_one({"name": name, "is_active": True})


class TemporaryGrantRepository(TypedRepository[TemporaryGrantDocument]):
    collection_name = "temporary_permission_grants"
    indexes = [IndexModel([("org_id", ASCENDING), ("user_id", ASCENDING), ("expires_at", ASCENDING)],
                          name="grant_user_expiry")]

    async def active_for(self, user_id: str, now: datetime) -> list[TemporaryGrantDocument]:
        return await self.load_all({"user_id": user_id, "expires_at": {"$gt": now}})
