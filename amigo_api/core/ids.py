"""Identifiers: MongoDB ObjectIds as 24 hex characters."""

from bson import ObjectId

OBJECT_ID_PATTERN = r"^[a-f0-9]{24}$"


def new_id() -> str:
    return str(ObjectId())
