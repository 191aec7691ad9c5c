"""Identifiers: MongoDB ObjectIds as 24 hex characters."""

import re

from bson import ObjectId

OBJECT_ID_PATTERN = r"^[a-f0-9]{24}$"
_OBJECT_ID = re.compile(OBJECT_ID_PATTERN)


def new_id() -> str:
    return str(ObjectId())


def is_object_id(value: str) -> bool:
    return bool(_OBJECT_ID.match(value))
