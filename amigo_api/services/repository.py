"""MongoDB access for services."""

from pymongo import ASCENDING, IndexModel

from amigo_api.core.db import Document
from amigo_api.core.repository import OrgRepository


class ServiceRepository(OrgRepository):
    collection_name = "services"
    indexes = [
        # At most one active service per name, enforced by the database for concurrent writers.
        IndexModel([("org_id", ASCENDING), ("name", ASCENDING)], unique=True, name="active_service_name",
                   partialFilterExpression={"is_active": True}),
        IndexModel([("org_id", ASCENDING), ("agent_id", ASCENDING), ("is_active", ASCENDING)], name="service_agent"),
        IndexModel([("org_id", ASCENDING), ("service_hierarchical_state_machine_id", ASCENDING),
                    ("is_active", ASCENDING)], name="service_state_machine"),
        IndexModel([("org_id", ASCENDING), ("tag_strings", ASCENDING)], name="service_tags"),
    ]

    async def by_id(self, service_id: str) -> Document | None:
        return await self.find_one({"_id": service_id})
