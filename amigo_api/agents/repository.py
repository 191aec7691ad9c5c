"""MongoDB access for agents, state machines and their versions."""

from typing import ClassVar

from pymongo import ASCENDING, DESCENDING, IndexModel

from amigo_api.core.db import Document
from amigo_api.core.repository import OrgRepository


class DefinitionRepository(OrgRepository):
    """Named definitions; a name is unique among the ones not deprecated."""

    indexes: ClassVar[list[IndexModel]] = [
        IndexModel([("org_id", ASCENDING), ("name", ASCENDING)], unique=True, name="live_name",
                   partialFilterExpression={"deprecated": False}),
    ]

    async def by_id(self, definition_id: str) -> Document | None:
        return await self.find_one({"_id": definition_id})


class VersionRepository(OrgRepository):
    parent_field: ClassVar[str]

    async def latest(self, parent_id: str) -> Document | None:
        docs = await self.collection.find(self.scoped({self.parent_field: parent_id}), session=self.session) \
            .sort("version", DESCENDING).limit(1).to_list()
        return docs[0] if docs else None

    async def numbered(self, parent_id: str, version: int) -> Document | None:
        return await self.find_one({self.parent_field: parent_id, "version": version})


class AgentRepository(DefinitionRepository):
    collection_name = "agents"


class AgentVersionRepository(VersionRepository):
    collection_name = "agent_versions"
    parent_field = "agent_id"
    indexes = [IndexModel([("org_id", ASCENDING), ("agent_id", ASCENDING), ("version", ASCENDING)], unique=True,
                          name="agent_version")]


class StateMachineRepository(DefinitionRepository):
    collection_name = "service_hierarchical_state_machines"


class StateMachineVersionRepository(VersionRepository):
    collection_name = "service_hierarchical_state_machine_versions"
    parent_field = "service_hierarchical_state_machine_id"
    indexes = [IndexModel([("org_id", ASCENDING), ("service_hierarchical_state_machine_id", ASCENDING),
                           ("version", ASCENDING)], unique=True, name="state_machine_version")]


REPOSITORIES: list[type[OrgRepository]] = [
    AgentRepository, AgentVersionRepository, StateMachineRepository, StateMachineVersionRepository,
]
