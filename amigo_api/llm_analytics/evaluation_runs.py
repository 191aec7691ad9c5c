"""`POST evaluation_runs/` (reference §5.1, §5.2): one evaluation run on one event, started as the
`run-evaluation` workflow; and how every run (manual or automatic) is started and named."""

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from amigo_api.core.db import Document, OrgDb
from amigo_api.llm_analytics.auth import EnvironmentCaller
from amigo_api.llm_analytics.evaluations import EVALUATIONS
from amigo_api.llm_analytics.repository import EventRepository
from amigo_api.llm_analytics.run_workflow import RunEvaluationWorkflow, RunJob
from amigo_api.settings import Settings

PREFIXES = {"hog": "llma-hog-eval", "llm_judge": "llma-llm-eval"}
MAX_NAME = 400
DATETIME_FORMAT = ("Datetime has wrong format. Use one of these formats instead: "
                   "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].")
TASK_TIMEOUT = timedelta(minutes=2)


class RunRefusal(Exception):
    """An answer other than 202, with PostHog's `{"error": ...}` body."""

    def __init__(self, status: int, error: Any) -> None:
        self.status, self.error = status, error


def workflow_id(evaluation_type: str, evaluation_id: str, event_uuid: str, manual: bool) -> str:
    """Automatic runs are named by evaluation and event alone, so an event is never evaluated twice; manual
    runs add the time, so asking again runs again."""
    base = f"{PREFIXES.get(evaluation_type, 'llma-eval')}-{evaluation_id}-{event_uuid}"
    return f"{base}-manual-{int(time.time() * 1000)}" if manual else base


async def start_run(client: Client, settings: Settings, job: RunJob, run_id: str, eager: bool = False) -> bool:
    """False when a run of that id was started already (an automatic run asked for twice). `eager`: from a
    process that also serves the task queue (the worker's dispatcher), the run's first task comes back with the
    start, skipping a round trip through the queue, where the server allows it."""
    try:
        await client.start_workflow(RunEvaluationWorkflow.run, job, id=run_id,
                                    task_queue=settings.llm_evaluations_task_queue, task_timeout=TASK_TIMEOUT,
                                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                                    request_eager_start=eager)
    except WorkflowAlreadyStartedError:
        return False
    return True


def _uuid(body: dict[str, Any], field: str, errors: dict[str, Any]) -> str:
    value = body.get(field)
    if value is None:
        errors[field] = ["This field is required." if field not in body else "This field may not be null."]
        return ""
    try:
        if not isinstance(value, str) or len(value) > 64:
            raise ValueError(value)
        return str(uuid.UUID(value))  # with dashes or without
    except ValueError:
        errors[field] = ["Must be a valid UUID."]
        return ""


def _timestamp(body: dict[str, Any], errors: dict[str, Any]) -> datetime | None:
    value = body.get("timestamp")
    if value is None:
        errors["timestamp"] = ["This field is required." if "timestamp" not in body else "This field may not be null."]
        return None
    try:
        if not isinstance(value, str) or len(value) > 64:
            raise ValueError(value)
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        errors["timestamp"] = [DATETIME_FORMAT]
        return None


def _text(body: dict[str, Any], field: str, default: str | None, errors: dict[str, Any]) -> str | None:
    value = body.get(field, default)
    if value is None and default is None:
        return None
    if not isinstance(value, str) or not value.strip():
        errors[field] = ["Not a valid string."] if not isinstance(value, str) else ["This field may not be blank."]
    elif len(value) > MAX_NAME:
        errors[field] = [f"Ensure this field has no more than {MAX_NAME} characters."]
    return value if field not in errors else None


def parse_request(body: Any) -> tuple[str, str, datetime, str, str | None]:
    if not isinstance(body, dict):
        raise RunRefusal(400, {"non_field_errors": [f"Invalid data. Expected a dictionary, but got "
                                                    f"{type(body).__name__}."]})
    errors: dict[str, Any] = {}
    evaluation_id, event_uuid = _uuid(body, "evaluation_id", errors), _uuid(body, "target_event_id", errors)
    timestamp = _timestamp(body, errors)
    event, distinct_id = _text(body, "event", "$ai_generation", errors), _text(body, "distinct_id", None, errors)
    if errors or timestamp is None or event is None:
        raise RunRefusal(400, errors)
    return evaluation_id, event_uuid, timestamp, event, distinct_id


async def _event(org: OrgDb, environment_id: int, event_uuid: str, timestamp: datetime, event: str,
                 distinct_id: str | None) -> Document | None:
    """By uuid, name and the day of `timestamp` (UTC), and `distinct_id` when given."""
    day = (timestamp if timestamp.tzinfo else timestamp.replace(tzinfo=UTC)).astimezone(UTC).date()
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    query: Document = {"org_id": org.org_id, "environment_id": environment_id, "uuid": event_uuid, "event": event,
                       "timestamp": {"$gte": start, "$lt": start + timedelta(days=1)}}
    if distinct_id is not None:
        query["distinct_id"] = distinct_id
    found = await EventRepository(org).load_one(query)
    return dict(found) if found is not None else None


async def run_now(caller: EnvironmentCaller, client: Client | None, settings: Settings, body: Any) -> dict[str, Any]:
    evaluation_id, event_uuid, timestamp, event, distinct_id = parse_request(body)
    org, environment_id = caller.org, caller.environment["_id"]
    evaluation = await org.db[EVALUATIONS].find_one({"_id": evaluation_id, "org_id": org.org_id,
                                                     "environment_id": environment_id, "deleted": False})
    if evaluation is None:
        raise RunRefusal(404, f"Evaluation {evaluation_id} not found")
    if await _event(org, environment_id, event_uuid, timestamp, event, distinct_id) is None:
        raise RunRefusal(404, f"Event {event_uuid} not found")
    run_id = workflow_id(evaluation["evaluation_type"], evaluation_id, event_uuid, manual=True)
    job = RunJob(org.org_id, environment_id, evaluation_id, event_uuid, "manual")
    try:
        if client is None:
            raise RuntimeError("no Temporal client")
        await start_run(client, settings, job, run_id)
    except Exception as error:  # Temporal refused or is unreachable: PostHog's answer, the cause in the log
        raise RunRefusal(500, "Failed to start evaluation") from error
    return {"workflow_id": run_id, "status": "started", "evaluation": {"id": evaluation_id, "name": evaluation["name"]},
            "target_event_id": event_uuid}
