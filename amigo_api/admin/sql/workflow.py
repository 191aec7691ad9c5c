"""The asynchronous SQL query as a Temporal workflow: one activity runs it (heartbeating, so a worker that dies
mid-query is noticed and the query retried on another), and the result lands in the blob store as CSV."""

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

HEARTBEAT_TIMEOUT = timedelta(seconds=5)


@dataclass
class SqlQueryJob:
    org_id: str
    query_id: str
    timeout_seconds: float


@workflow.defn(name="SqlQueryWorkflow")
class SqlQueryWorkflow:
    @workflow.run
    async def run(self, job: SqlQueryJob) -> str:
        try:
            result: str = await workflow.execute_activity(
                "run_sql_query", args=[job.org_id, job.query_id, job.timeout_seconds],
                start_to_close_timeout=timedelta(seconds=job.timeout_seconds + 60),
                heartbeat_timeout=HEARTBEAT_TIMEOUT,
                retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=5))
            return result
        except ActivityError as exc:
            reason = str(exc.cause or exc)
            await workflow.execute_activity("mark_sql_query_failed",
                                            args=[job.org_id, job.query_id, reason],
                                            start_to_close_timeout=timedelta(seconds=30))
            return "failed"
