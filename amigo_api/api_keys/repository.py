"""MongoDB access for API keys, with their stored shape."""

from datetime import datetime
from typing import TypedDict

from pymongo import ASCENDING, IndexModel

from amigo_api.core.repository import TypedRepository


class APIKeyDocument(TypedDict):
    _id: str
    key_id: str  # what clients send as `x-api-key-id`
    name: str | None
    secret_hash: str  # the secret itself is shown once, at creation
    role_id: str
    creator: dict[str, str]
    created_at: datetime
    updated_at: datetime
    expires_at: datetime


class APIKeyRepository(TypedRepository[APIKeyDocument]):
    collection_name = "api_keys"
    indexes = [IndexModel([("org_id", ASCENDING), ("key_id", ASCENDING)], unique=True, name="api_key_id")]

    async def by_key_id(self, key_id: str) -> APIKeyDocument | None:
        return await self.load_one({"key_id": key_id})

    async def count_unexpired(self, now: datetime) -> int:
        return await self.count({"expires_at": {"$gt": now}})
