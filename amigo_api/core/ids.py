"""Identifiers: MongoDB ObjectIds as 24 hex characters."""

import re
from typing import Any

from bson import ObjectId
from fastapi import Path

OBJECT_ID_PATTERN = r"^[a-f0-9]{24}$"


def object_id_path(description: str | None = None) -> Any:
    """A path parameter the contract documents as an ObjectId, never refused for its shape: an id that names
    nothing is the same 404 whatever it looks like (the lookup says so), as the Amigo service answers."""
    return Path(description=description, json_schema_extra={"pattern": OBJECT_ID_PATTERN})


def new_id() -> str:
    return str(ObjectId())

# Organization ids name databases, blob folders and git repositories, so they are kept to a safe alphabet.
ORG_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
_ORG_ID = re.compile(ORG_ID_PATTERN)


# Names the API's own paths use.
RESERVED_ORG_IDS = frozenset({"admin", "api", "app", "amigo", "dashboard", "docs", "healthz", "infra",
                              "metrics", "readyz", "static", "www", "v1"})


def is_valid_org_id(org_id: str) -> bool:
    return _ORG_ID.fullmatch(org_id) is not None


def is_reserved_org_id(org_id: str) -> bool:
    return org_id.lower() in RESERVED_ORG_IDS
