"""The capture baseline: a bare FastAPI app that parses a `/batch/` body and inserts the same event documents
into the same database, with no token lookup, validation, decompression, limits or duplicate handling."""

import json
import os
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pymongo import AsyncMongoClient

MONGO_URI = os.environ["BENCH_MONGO_URI"]
DATABASE = os.environ.get("BENCH_DATABASE", "amigo")
ORG = os.environ.get("BENCH_ORG", "bench")
ENVIRONMENT = int(os.environ.get("BENCH_ENVIRONMENT", "1"))
client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGO_URI, tz_aware=True)
app = FastAPI()


@app.post("/batch/")
async def batch(request: Request) -> JSONResponse:
    body = json.loads(await request.body())
    now = datetime.now(UTC)
    docs = []
    for event in body["batch"]:
        event_uuid = str(uuid.uuid4())
        docs.append({"_id": f"{ENVIRONMENT}/{event_uuid}", "org_id": ORG, "environment_id": ENVIRONMENT,
                     "uuid": event_uuid, "event": event["event"], "distinct_id": event["distinct_id"],
                     "properties": event.get("properties", {}), "timestamp": now, "created_at": now,
                     **({"eval_pending": True} if event["event"] == "$ai_generation" else {})})
    await client[DATABASE]["events"].insert_many(docs, ordered=False)
    return JSONResponse({"status": "Ok"})
