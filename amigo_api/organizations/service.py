"""Rules for organizations: whether one exists, what it shows, and the members it has from other
organizations. Creating one (with its roles and super user) is `provisioning`."""

from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from amigo_api.core.auth import Principal
from amigo_api.core.clock import utcnow
from amigo_api.core.db import OrgDb
from amigo_api.core.errors import NotFound
from amigo_api.core.ids import new_id
from amigo_api.core.references import RoleHolders, register_role_holders
from amigo_api.organizations import schemas as s
from amigo_api.organizations.repository import (
    ExternalMemberDocument,
    ExternalMemberRepository,
    OrganizationDocument,
    OrganizationRepository,
)
from amigo_api.users.schemas import Preferences

KNOWN_ORGANIZATIONS_LIMIT = 100_000


def organization_not_found() -> NotFound:
    return NotFound("The specified organization does not exist.", error_code="organization_not_found")


async def ensure_indexes(db: Any) -> None:
    for repository in (OrganizationRepository, ExternalMemberRepository):
        await repository.ensure_indexes(db)


async def organization_exists(org: OrgDb) -> bool:
    return await OrganizationRepository(org).find_one({"_id": org.org_id}, {"_id": 1}) is not None


async def require_organization(org: OrgDb) -> None:
    if not await organization_exists(org):
        raise organization_not_found()


class OrganizationDirectory:
    """Which organizations exist. Organizations are never deleted, so one seen once is remembered for the
    life of the process (each app builds its own directory)."""

    def __init__(self) -> None:
        self._known: set[str] = set()

    @property
    def known(self) -> frozenset[str]:
        return frozenset(self._known)

    async def exists(self, org: OrgDb) -> bool:
        if org.org_id in self._known:
            return True
        if not await organization_exists(org):
            return False
        if len(self._known) >= KNOWN_ORGANIZATIONS_LIMIT:
            self._known.clear()
        self._known.add(org.org_id)
        return True

    async def require(self, org: OrgDb) -> None:
        if not await self.exists(org):
            raise organization_not_found()


async def get_organization(org: OrgDb, principal: Principal | None) -> s.GetOrganizationResponse:
    doc = await OrganizationRepository(org).details()
    if doc is None:
        raise organization_not_found()
    detailed = principal is not None and principal.can("Organization:GetOrganizationDetails")
    return s.GetOrganizationResponse(
        org_id=doc["org_id"], org_name=doc["org_name"], title=doc["title"], main_description=doc["main_description"],
        sub_description=doc["sub_description"], onboarding_instructions=doc["onboarding_instructions"],
        default_user_preferences=Preferences.model_validate(doc["default_user_preferences"]) if detailed else None,
        tenant_id=doc.get("tenant_id") if detailed else None,
    )


async def default_user_preferences(org: OrgDb) -> dict[str, Any]:
    doc = await OrganizationRepository(org).find_one({"_id": org.org_id}, {"default_user_preferences": 1})
    preferences: dict[str, Any] = (doc or {}).get("default_user_preferences") or Preferences().model_dump()
    return preferences


async def organization_name(org: OrgDb) -> str:
    doc = await OrganizationRepository(org).find_one({"_id": org.org_id}, {"org_name": 1})
    return str((doc or {}).get("org_name", org.org_id))


async def store_organization(org: OrgDb, session: AsyncClientSession, doc: OrganizationDocument) -> None:
    await OrganizationRepository(org, session).store(doc)


async def claim_organization(org: OrgDb, session: AsyncClientSession) -> None:
    """Serialize changes to who holds which role (see `OrgRepository.claim`)."""
    await OrganizationRepository(org, session).claim({"_id": org.org_id})


# Members from other organizations -------------------------------------------------------------------

async def external_member(org: OrgDb, home_org_id: str, user_id: str) -> ExternalMemberDocument | None:
    return await ExternalMemberRepository(org).binding(home_org_id, user_id)


async def add_external_member(org: OrgDb, session: AsyncClientSession, home_org_id: str, user_id: str,
                              role_id: str) -> None:
    await ExternalMemberRepository(org, session).store(ExternalMemberDocument(
        _id=new_id(), home_org_id=home_org_id, user_id=user_id, role_id=role_id, created_at=utcnow()))


async def _reassign_members(org: OrgDb, session: AsyncClientSession, old_role_id: str, new_role_id: str) -> None:
    await ExternalMemberRepository(org, session).update_many({"role_id": old_role_id},
                                                             {"$set": {"role_id": new_role_id}})


async def _count_members(org: OrgDb, session: AsyncClientSession, role_ids: list[str]) -> int:
    return await ExternalMemberRepository(org, session).count({"role_id": {"$in": role_ids}})


register_role_holders(RoleHolders("external_members", _reassign_members, _count_members))
