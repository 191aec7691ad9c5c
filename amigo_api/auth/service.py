"""Principals from the database, for `core.auth`: the API key a token was issued for must still exist, the
user (or a member from another organization) must hold a role in the path organization, and their active
temporary grants join the role's."""

import time
from dataclasses import dataclass
from typing import Any

from amigo_api.api_keys.service import find_api_key
from amigo_api.core.auth import Principal
from amigo_api.core.clock import utcnow
from amigo_api.core.db import OrgDb
from amigo_api.core.errors import Unauthorized
from amigo_api.core.permissions import PermissionGrant
from amigo_api.organizations.service import OrganizationDirectory, external_member
from amigo_api.roles import service as roles
from amigo_api.roles import temporary_grants
from amigo_api.users.service import find_user

ROLE_CACHE_LIMIT = 10_000


@dataclass(frozen=True)
class CachedRole:
    id: str
    name: str
    grants: list[PermissionGrant]


class PrincipalLoader:
    """One per app (`app.state.principals`). Roles are cached by id with their grants parsed once: a role's
    name and grants never change in place (modify-role stores a new document when they change)."""

    def __init__(self, organizations: OrganizationDirectory) -> None:
        self.organizations = organizations
        self.roles: dict[tuple[str, str], CachedRole] = {}

    async def organization_exists(self, org: OrgDb) -> bool:
        return await self.organizations.exists(org)

    async def role(self, org: OrgDb, role_id: str) -> CachedRole | None:
        key = (org.org_id, role_id)
        if key not in self.roles:
            doc = await roles.get_role(org, role_id)
            if doc is None:
                return None
            if len(self.roles) >= ROLE_CACHE_LIMIT:
                self.roles.clear()
            self.roles[key] = CachedRole(doc["_id"], doc["name"], roles.grants_of(doc))
        return self.roles[key]

    async def load(self, org: OrgDb, issuer: OrgDb, user_id: str, api_key_id: str) -> tuple[Principal, float] | None:
        """The principal and until when (monotonic seconds) it may be cached: no later than its API key or any
        of its temporary grants expires. None if the user has no role in the organization."""
        now = utcnow()
        key = await find_api_key(issuer, api_key_id)
        if key is None or key["expires_at"] <= now:
            raise Unauthorized("The API key this token was issued for was deleted or has expired; sign in again.",
                               error_code="api_key_revoked")
        found = await self._member(org, issuer, user_id)
        if found is None:
            return None
        principal, temporary = found
        valid_until = time.monotonic() + min(
            [(g["expires_at"] - now).total_seconds() for g in temporary] + [(key["expires_at"] - now).total_seconds()])
        return principal, valid_until

    async def load_member(self, org: OrgDb, user_id: str) -> Principal | None:
        """A user of `org` acting through a credential of their own other than a token (an LLM analytics
        personal API key); None if the user has no role."""
        found = await self._member(org, org, user_id)
        return found[0] if found else None

    async def _member(self, org: OrgDb, issuer: OrgDb, user_id: str) -> tuple[Principal, list[Any]] | None:
        member = (await find_user(org, user_id) if issuer.org_id == org.org_id
                  else await external_member(org, issuer.org_id, user_id))
        if member is None:
            await self.organizations.require(org)
            return None
        role = await self.role(org, member["role_id"])
        if role is None:
            return None
        temporary = await temporary_grants.active_grants(org, user_id, utcnow())
        principal = Principal(
            org_id=org.org_id, issuer_org_id=issuer.org_id, user_id=user_id, role_id=role.id, role_name=role.name,
            role_grants=role.grants, temporary_grants=temporary_grants.grants_of(temporary))
        return principal, list(temporary)
