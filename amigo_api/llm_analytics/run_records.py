"""Runs of evaluations as the `run-evaluation` workflow leaves them (an extension of PostHog's API): started,
then completed with the verdict, skipped with the reason, or failed; so a dashboard shows progress without
querying `$ai_evaluation` events."""

from typing import Any

from pymongo import DESCENDING

from amigo_api.core.clock import utcnow
from amigo_api.core.db import Document, OrgDb
from amigo_api.llm_analytics.run_workflow import RunEnd, RunJob

RUNS = "llm_evaluation_runs"
FIELDS = ("evaluation_id", "target_event_id", "trigger", "status", "verdict", "applicable", "reasoning",
          "skip_reason", "message", "started_at", "finished_at")


async def ensure_indexes(db: Any) -> None:
    await db[RUNS].create_index([("org_id", 1), ("environment_id", 1), ("evaluation_id", 1), ("started_at", -1)],
                                name="evaluation_runs_recent")


def _identity(job: RunJob) -> Document:
    return {"environment_id": job.environment_id, "evaluation_id": job.evaluation_id,
            "target_event_id": job.event_uuid, "trigger": job.trigger, "started_at": utcnow()}


async def started(org: OrgDb, workflow_id: str, job: RunJob) -> None:
    """For runs that take a while (the LLM judge): once, so a workflow task that runs again does not start the
    record over. A Hog run is recorded once, when it ends."""
    await org.db[RUNS].update_one({"_id": workflow_id, "org_id": org.org_id}, {"$setOnInsert": {
        **_identity(job), "status": "started", "verdict": None, "applicable": None, "reasoning": None,
        "skip_reason": None, "message": None, "finished_at": None}}, upsert=True)


async def ended(org: OrgDb, workflow_id: str, end: RunEnd) -> None:
    await org.db[RUNS].update_one({"_id": workflow_id, "org_id": org.org_id}, {
        "$setOnInsert": _identity(end.job),
        "$set": {"status": end.status, "verdict": end.outcome.get("verdict"),
                 "applicable": end.outcome.get("applicable"), "reasoning": end.outcome.get("reasoning"),
                 "skip_reason": end.outcome.get("skip_reason"), "message": end.outcome.get("message"),
                 "finished_at": utcnow()}}, upsert=True)


SORT = [("started_at", DESCENDING), ("_id", DESCENDING)]


async def render(doc: Document) -> dict[str, Any]:
    return {"id": doc["_id"], **{f: doc.get(f) for f in FIELDS}}


def runs_of(org: OrgDb, environment_id: int, evaluation_id: str) -> Document:
    return {"org_id": org.org_id, "environment_id": environment_id, "evaluation_id": evaluation_id}
