"""Operation locks shared by every process: a document per lock with its owner and an expiry, so two API
processes and the worker agree on who holds it, and a holder that dies lets go when the expiry passes. The
holder renews a lock it needs for longer (a publish that builds for minutes)."""

from datetime import datetime, timedelta
from typing import TypedDict

from pymongo.errors import DuplicateKeyError

from amigo_api.core.clock import utcnow
from amigo_api.core.db import OrgDb
from amigo_api.core.repository import TypedRepository


class LockDocument(TypedDict):
    _id: str
    owner: str
    expires_at: datetime


class LockRepository(TypedRepository[LockDocument]):
    collection_name = "operation_locks"


def _lock_id(org: OrgDb, name: str) -> str:
    return f"{org.org_id}/{name}"


async def acquire_lock(org: OrgDb, name: str, owner: str, ttl: timedelta) -> bool:
    """Take the lock, or extend it when `owner` holds it already; False while someone else holds it."""
    now = utcnow()
    try:
        await LockRepository(org).collection.find_one_and_update(
            {"_id": _lock_id(org, name), "org_id": org.org_id,
             "$or": [{"expires_at": {"$lte": now}}, {"owner": owner}]},
            {"$set": {"owner": owner, "expires_at": now + ttl}}, upsert=True)
    except DuplicateKeyError:  # the lock exists, held by another owner and not expired
        return False
    return True


async def release_lock(org: OrgDb, name: str, owner: str) -> None:
    await LockRepository(org).delete_one({"_id": _lock_id(org, name), "owner": owner})


async def lock_holder(org: OrgDb, name: str) -> str | None:
    """Who holds the lock now, if anyone."""
    doc = await LockRepository(org).load_one({"_id": _lock_id(org, name), "expires_at": {"$gt": utcnow()}})
    return doc["owner"] if doc else None
