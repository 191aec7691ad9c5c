"""MongoDB access for simulation unit tests."""

from pymongo import ASCENDING, IndexModel

from amigo_api.core.db import Document
from amigo_api.core.repository import OrgRepository


class SimulationUnitTestRepository(OrgRepository):
    collection_name = "simulation_unit_tests"
    indexes = [
        IndexModel([("org_id", ASCENDING), ("name", ASCENDING)], unique=True, name="live_unit_test_name",
                   partialFilterExpression={"is_deleted": False}),
        IndexModel([("org_id", ASCENDING), ("service_id", ASCENDING), ("is_deleted", ASCENDING)],
                   name="unit_test_service"),
    ]

    async def live(self, unit_test_id: str) -> Document | None:
        return await self.find_one({"_id": unit_test_id, "is_deleted": False})
