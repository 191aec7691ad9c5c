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
