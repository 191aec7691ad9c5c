"""MongoDB access for organizations and their members from other organizations, with the stored shapes."""

from datetime import datetime
from typing import Any, NotRequired, TypedDict, cast

from pymongo import ASCENDING, IndexModel

from amigo_api.core.repository import TypedRepository


class OrganizationDetails(TypedDict):
    """What the creator of an organization gives (create-organization's body, or the bootstrap defaults)."""

    org_id: str
    org_name: str
    title: str
    main_description: str
    sub_description: str
    onboarding_instructions: list[str]
    user_dimensions: list[dict[str, Any]]
    azure_devops_team_name: str
    default_user_preferences: dict[str, Any]
    images: NotRequired[dict[str, str]]  # base64 images; left out of reads that do not show them


class OrganizationDocument(OrganizationDetails):
    _id: str
    tenant_id: str
    created_at: datetime
    updated_at: datetime


class ExternalMemberDocument(TypedDict):
    """A user of another organization (`home_org_id`) holding a role in this one."""

    _id: str
    home_org_id: str
    user_id: str
    role_id: str
    created_at: datetime


class OrganizationRepository(TypedRepository[OrganizationDocument]):
    collection_name = "organizations"

    async def details(self) -> OrganizationDocument | None:
        """The organization's document without its images."""
        return cast(OrganizationDocument | None, await self.find_one({"_id": self.org.org_id}, {"images": 0}))


class ExternalMemberRepository(TypedRepository[ExternalMemberDocument]):
    collection_name = "external_members"
    indexes = [IndexModel([("org_id", ASCENDING), ("home_org_id", ASCENDING), ("user_id", ASCENDING)],
                          unique=True, name="external_member")]

    async def binding(self, home_org_id: str, user_id: str) -> ExternalMemberDocument | None:
        return await self.load_one({"home_org_id": home_org_id, "user_id": user_id})
