"""Automatic runs (reference §4.3): every newly captured `$ai_generation` is matched against its environment's
enabled evaluations, and a run starts for each evaluation whose conditions pass.

The hand-off is the event itself: capture stores a generation with `eval_pending: true`, in the same write as
the event, so nothing is lost between the two and capture does no matching at all. The worker's dispatcher
takes pending events in batches, matches them, starts the runs, and then clears the mark. If it dies between
starting runs and clearing, the batch is matched again, and the runs, named by evaluation and event, are
refused by Temporal as already started: each event is evaluated once per evaluation. An event sent again with
the same uuid is not stored again, so it is not marked again.

Condition sets are OR-ed, the filters of one set AND-ed (compiled to Hog when the evaluation was saved); the
first set whose filters match decides by its sampling: the md5 of the event's uuid, its first 8 hex digits as an
integer, `% 10000 / 100`, below `rollout_percentage`. An evaluation without conditions never runs."""

import asyncio
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import structlog
from temporalio.client import Client

from amigo_api.core.db import Clusters, Document
from amigo_api.hog.bytecode import StaleBytecode
from amigo_api.hog.filters import matcher
from amigo_api.llm_analytics.evaluation_runs import start_run, workflow_id
from amigo_api.llm_analytics.evaluations import EVALUATIONS
from amigo_api.llm_analytics.repository import EventRepository
from amigo_api.llm_analytics.run_workflow import RunJob
from amigo_api.settings import Settings

log = structlog.get_logger(__name__)
BATCH = 500
STARTS_AT_ONCE = 64
CACHE_SECONDS = 1.0  # how long a changed evaluation may go unnoticed by the dispatcher
PENDING = "eval_pending"


def in_sample(event_uuid: str, rollout_percentage: float) -> bool:
    if rollout_percentage >= 100:
        return True
    digest = hashlib.md5(event_uuid.encode()).hexdigest()  # noqa: S324 - sampling, not security
    return (int(digest[:8], 16) % 10000) / 100 < rollout_percentage


@dataclass(frozen=True)
class Trigger:
    """One enabled evaluation, its conditions ready to match."""

    evaluation_id: str
    evaluation_type: str
    conditions: list[tuple[Callable[[dict[str, Any]], bool], float]]

    def fires_for(self, event_uuid: str, properties: dict[str, Any]) -> bool:
        for matches, rollout in self.conditions:
            if matches(properties):
                return in_sample(event_uuid, rollout)
        return False


def trigger_of(evaluation: Document) -> Trigger:
    conditions = []
    for condition in evaluation.get("conditions") or []:
        try:
            conditions.append((matcher(condition.get("bytecode")), float(condition.get("rollout_percentage", 100))))
        except StaleBytecode:
            continue  # filters that failed to compile never match
    return Trigger(evaluation["_id"], evaluation["evaluation_type"], conditions)


class Dispatcher:
    def __init__(self, clusters: Clusters, client: Client, settings: Settings) -> None:
        self.clusters, self.client, self.settings = clusters, client, settings
        self.triggers: dict[tuple[str, int], tuple[float, list[Trigger]]] = {}

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                handled = await self.dispatch_once()
            except Exception as error:  # the database or Temporal away for a moment: try again shortly
                log.warning("evaluation_dispatch_failed", error=str(error))
                handled = 0
            if not handled:
                with anyio.move_on_after(self.settings.evaluation_dispatch_seconds):
                    await stop.wait()

    async def dispatch_once(self) -> int:
        handled = 0
        for cluster in self.clusters.uris:
            handled += await self._dispatch_cluster(self.clusters.database(cluster))
        return handled

    async def _dispatch_cluster(self, db: Any) -> int:
        events = await db[EventRepository.collection_name].find(
            {PENDING: True}, {"_id": 1, "org_id": 1, "environment_id": 1, "uuid": 1, "properties": 1}
        ).limit(BATCH).to_list()
        if not events:
            return 0
        triggers = {key: await self._triggers(db, *key) for key in {(e["org_id"], e["environment_id"]) for e in events}}
        jobs = await anyio.to_thread.run_sync(_matched, events, triggers)
        limit = asyncio.Semaphore(STARTS_AT_ONCE)

        async def start(job: RunJob, evaluation_type: str) -> None:
            async with limit:
                await start_run(self.client, self.settings, job,
                                workflow_id(evaluation_type, job.evaluation_id, job.event_uuid, manual=False),
                                eager=True)
        await asyncio.gather(*(start(job, kind) for job, kind in jobs))
        await db[EventRepository.collection_name].update_many({"_id": {"$in": [e["_id"] for e in events]}},
                                                              {"$unset": {PENDING: ""}})
        if jobs:
            log.info("evaluation_runs_started", count=len(jobs), events=len(events))
        return len(events)

    async def _triggers(self, db: Any, org_id: str, environment_id: int) -> list[Trigger]:
        cached = self.triggers.get((org_id, environment_id))
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        docs = await db[EVALUATIONS].find({"org_id": org_id, "environment_id": environment_id, "enabled": True,
                                           "deleted": False}).to_list()
        found = [trigger_of(d) for d in docs if d.get("conditions")]
        self.triggers[(org_id, environment_id)] = (time.monotonic() + CACHE_SECONDS, found)
        return found


def _matched(events: list[Document], triggers: dict[tuple[str, int], list[Trigger]]) -> list[tuple[RunJob, str]]:
    """On a worker thread: the runs a batch of events starts."""
    jobs = []
    for event in events:
        for trigger in triggers[(event["org_id"], event["environment_id"])]:
            if trigger.fires_for(event["uuid"], event.get("properties") or {}):
                jobs.append((RunJob(event["org_id"], event["environment_id"], trigger.evaluation_id, event["uuid"],
                                    "automatic"), trigger.evaluation_type))
    return jobs
