"""The baseline: a bare FastAPI app running get-users' MongoDB query, with no auth, permissions or limits."""

import os
from typing import Any

from fastapi import FastAPI
from pymongo import AsyncMongoClient

MONGO_URI = os.environ["BENCH_MONGO_URI"]
DATABASE = os.environ.get("BENCH_DATABASE", "amigo")
client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGO_URI, tz_aware=True)
app = FastAPI()


@app.get("/v1/{organization}/user/")
async def get_users(organization: str, limit: int = 100, continuation_token: int = 0) -> dict[str, Any]:
    cursor = client[DATABASE]["users"].find({"org_id": organization})
    docs = await cursor.sort([("_id", 1)]).skip(continuation_token).limit(limit + 1).to_list()
    users = [{"org_id": d["org_id"], "user_id": d["_id"], "first_name": d["first_name"],
              "last_name": d["last_name"], "email": d["email"], "user_stats": d["user_stats"], "role": d["role_id"],
              "preferences": d["preferences"], "nonsensitive_variables": d["nonsensitive_variables"],
              "sensitive_variables": sorted(d["sensitive_variables"])} for d in docs[:limit]]
    has_more = len(docs) > limit
    token = continuation_token + limit if has_more else None
    return {"users": users, "has_more": has_more, "continuation_token": token}


@app.get("/v1/{organization}/service/")
async def get_services(organization: str, tags: str = "team:a", limit: int = 10,
                       continuation_token: int = 0) -> dict[str, Any]:
    """get-services' queries for a caller whose grant covers services tagged `tags`: the page and the first
    page's filter values."""
    services = client[DATABASE]["services"]
    query = {"org_id": organization, "tag_strings": tags}
    cursor = services.find(query)
    docs = await cursor.sort([("_id", 1)]).skip(continuation_token).limit(limit + 1).to_list()
    shaped = [{"id": d["_id"], "name": d["name"], "version_sets": d["version_sets"], "description": d["description"],
               "is_active": d["is_active"], "service_hierarchical_state_machine_id":
               d["service_hierarchical_state_machine_id"], "agent_id": d["agent_id"], "tags": d["tags"],
               "keyterms": d["keyterms"], "creator": d["creator"], "updated_by": d["updated_by"]}
              for d in docs[:limit]]
    filter_values = None
    if continuation_token == 0:
        filter_values = {"tags": sorted(await services.distinct("tag_strings", {"org_id": organization}))}
    has_more = len(docs) > limit
    return {"services": shaped, "has_more": has_more,
            "continuation_token": continuation_token + limit if has_more else None, "filter_values": filter_values}
