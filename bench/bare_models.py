"""The baseline of bench/overhead.py: a bare FastAPI app answering get-models' path with the bytes amigo-api
answers (read from BENCH_BODY_FILE), with no authentication, permission, limit or logging."""

import os
from pathlib import Path

from fastapi import FastAPI, Response

BODY = Path(os.environ["BENCH_BODY_FILE"]).read_bytes()
app = FastAPI()


@app.get("/v1/{organization}/admin/get_models/")
async def get_models(organization: str) -> Response:
    return Response(BODY, media_type="application/json")
