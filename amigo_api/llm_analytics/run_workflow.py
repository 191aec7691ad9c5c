"""`run-evaluation` (reference §5.3): one evaluation of one event, on the `llm-evaluations` task queue.

The workflow carries ids only: the activities read the evaluation, the event and any provider key from the
database, so no event content or key material is in a workflow history. Reading, the Hog program and emitting
the `$ai_evaluation` event are local activities (no task queue round trip each: they are quick and safe to run
again); the LLM judge is a regular activity that heartbeats, so a worker that dies mid-call is noticed in
seconds and the call is made again by another worker.

It runs outside Temporal's workflow sandbox: it only orders activities, and re-importing this module in a
sandbox for every run would cost each run several milliseconds."""

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

QUICK = timedelta(seconds=30)
JUDGE_TIMEOUT = timedelta(minutes=6)
JUDGE_HEARTBEAT = timedelta(seconds=10)
JUDGE_RETRIES = RetryPolicy(maximum_attempts=3, initial_interval=timedelta(seconds=10),
                            maximum_interval=timedelta(seconds=60), backoff_coefficient=2.0)


@dataclass
class RunJob:
    org_id: str
    environment_id: int
    evaluation_id: str
    event_uuid: str
    trigger: str  # "manual" or "automatic"


@dataclass
class HogJob:
    job: RunJob
    evaluation: dict[str, Any]  # what the program needs: name, type, configs (no secrets)


@dataclass
class RunEnd:
    job: RunJob
    status: str  # "completed", "skipped" or "failed"
    outcome: dict[str, Any] = field(default_factory=dict)
    started_at: str = ""


def _failure_message(error: ActivityError) -> str:
    cause = error.cause
    return str(cause.message if isinstance(cause, ApplicationError) else cause or error)


@workflow.defn(name="run-evaluation", sandboxed=False)
class RunEvaluationWorkflow:
    @workflow.run
    async def run(self, job: RunJob) -> dict[str, Any]:
        started_at = workflow.now().isoformat()
        brief: dict[str, Any] = await workflow.execute_local_activity(
            "prepare_run", job, start_to_close_timeout=QUICK, retry_policy=RetryPolicy(maximum_attempts=3))
        try:
            if brief["evaluation_type"] == "hog":  # deterministic: never tried twice
                outcome: dict[str, Any] = await workflow.execute_local_activity(
                    "execute_hog_eval", HogJob(job, brief["evaluation"]), start_to_close_timeout=QUICK,
                    retry_policy=RetryPolicy(maximum_attempts=1))
            else:
                outcome = await workflow.execute_activity(
                    "execute_llm_judge", job, start_to_close_timeout=JUDGE_TIMEOUT, heartbeat_timeout=JUDGE_HEARTBEAT,
                    retry_policy=JUDGE_RETRIES)
        except ActivityError as error:
            await self._finish(RunEnd(job, "failed", {"message": _failure_message(error)}, started_at))
            raise ApplicationError(f"The evaluation failed: {_failure_message(error)}", non_retryable=True) from error
        if outcome.get("skipped"):
            await self._finish(RunEnd(job, "skipped", outcome, started_at))
            return {"verdict": None, "skipped": True, "skip_reason": outcome.get("skip_reason"),
                    "message": outcome.get("message"), "evaluation_id": job.evaluation_id,
                    "evaluation_type": brief["evaluation_type"]}
        await self._finish(RunEnd(job, "completed", outcome, started_at))
        return {"verdict": outcome.get("verdict"), "reasoning": outcome.get("reasoning"),
                "evaluation_id": job.evaluation_id, "evaluation_type": brief["evaluation_type"],
                "is_byok": outcome.get("is_byok", False)}

    async def _finish(self, end: RunEnd) -> None:
        """Completed runs emit their `$ai_evaluation` event here; every run records how it ended."""
        await workflow.execute_local_activity("finish_run", end, start_to_close_timeout=QUICK,
                                              retry_policy=RetryPolicy(maximum_attempts=3))
