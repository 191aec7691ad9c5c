"""MongoDB access for organizations, users, roles, API keys and temporary permission grants."""

from datetime import datetime

from pymongo import ASCENDING, IndexModel

from amigo_api.core.db import Document
from amigo_api.core.repository import OrgRepository


class OrganizationRepository(OrgRepository):
    collection_name = "organizations"


class RoleRepository(OrgRepository):
    collection_name = "roles"
    indexes = [
        IndexModel([("org_id", ASCENDING), ("name", ASCENDING)], unique=True, name="active_role_name",
                   partialFilterExpression={"is_active": True}),
        IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="role_expiry"),
    ]

    async def active_by_name(self, name: str) -> Document | None:
        return await self.find_one({"name": name, "is_active": True})

    async def by_id(self, role_id: str) -> Document | None:
        return await self.find_one({"_id": role_id})


class UserRepository(OrgRepository):
    collection_name = "users"
    indexes = [IndexModel([("org_id", ASCENDING), ("email", ASCENDING)], unique=True, name="user_email")]

    async def by_id(self, user_id: str) -> Document | None:
        return await self.find_one({"_id": user_id})


class ExternalMemberRepository(OrgRepository):
    """Users of another organization holding a role in this one (cross-organization access)."""

    collection_name = "external_members"
    indexes = [IndexModel([("org_id", ASCENDING), ("home_org_id", ASCENDING), ("user_id", ASCENDING)],
                          unique=True, name="external_member")]

    async def binding(self, home_org_id: str, user_id: str) -> Document | None:
        return await self.find_one({"home_org_id": home_org_id, "user_id": user_id})


class APIKeyRepository(OrgRepository):
    collection_name = "api_keys"
    indexes = [IndexModel([("org_id", ASCENDING), ("key_id", ASCENDING)], unique=True, name="api_key_id")]

    async def count_unexpired(self, now: datetime) -> int:
        return await self.count({"expires_at": {"$gt": now}})


class TemporaryGrantRepository(OrgRepository):
    collection_name = "temporary_permission_grants"
    indexes = [IndexModel([("org_id", ASCENDING), ("user_id", ASCENDING), ("expires_at", ASCENDING)],
                          name="grant_user_expiry")]

    async def active_for(self, user_id: str, now: datetime) -> list[Document]:
        return await self.find_all({"user_id": user_id, "expires_at": {"$gt": now}})


REPOSITORIES: list[type[OrgRepository]] = [
    OrganizationRepository, RoleRepository, UserRepository, ExternalMemberRepository, APIKeyRepository,
    TemporaryGrantRepository,
]
