"""MongoDB access for users, with their stored shape."""

from datetime import datetime
from typing import Any, TypedDict

from pymongo import ASCENDING, IndexModel

from amigo_api.core.repository import TypedRepository


class UserStatsDocument(TypedDict):
    num_conversations: int
    num_messages: int
    last_message_time: datetime | None


class UserDocument(TypedDict):
    _id: str
    email: str  # lower-cased; unique in the organization
    first_name: str
    last_name: str
    role_id: str
    preferences: dict[str, Any]
    nonsensitive_variables: dict[str, str]
    sensitive_variables: dict[str, str]  # values encrypted with the service's secret key
    status: str  # "unverified" until the user signs in through the frontend
    enable_actions_access: bool
    additional_context: list[str]
    user_stats: UserStatsDocument
    created_at: datetime
    updated_at: datetime


class UserRepository(TypedRepository[UserDocument]):
    collection_name = "users"
    indexes = [IndexModel([("org_id", ASCENDING), ("email", ASCENDING)], unique=True, name="user_email")]

    async def by_email(self, email: str) -> UserDocument | None:
        return await self.load_one({"email": email.lower()})
