"""Throughput of get-users (authenticated, permission-filtered, rate-limited) against a bare FastAPI app
running the same MongoDB query on the same database; both as uvicorn processes, same load generator. Bound by
the embedded database: `bench/overhead.py` measures the fixed cost of our own code.

Runs with no arguments on its own embedded database. Last line: RESULT overhead_db_ratio=<ours/bare>."""

import os

from harness import run_comparison

from amigo_api.bootstrap import bootstrap
from amigo_api.core.db import Clusters
from amigo_api.settings import Settings
from amigo_api.users import service

USERS = 50
PAGE = 20


async def seed(settings: Settings) -> dict[str, str]:
    creds = await bootstrap(settings, "bench", "bench@example.com", "DefaultSuperAdministratorRole")
    clusters = Clusters(settings)
    org = await clusters.org_db("bench")
    role = await org.db["roles"].find_one({"org_id": "bench", "name": "DefaultUserRole"})
    assert role is not None
    for i in range(USERS):
        await service.create_user(org, first_name=f"User{i}", last_name="Bench", email=f"user{i}@example.com",
                                  role_id=role["_id"])
    await clusters.close()
    return creds


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    run_comparison("overhead_db_ratio", f"get-users, page of {PAGE} of {USERS + 2} users", "/v1/{org}/user/",
                   {"limit": PAGE}, seed)
