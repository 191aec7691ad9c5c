"""The Temporal worker entry point: every workflow and activity of the product is registered here."""

import asyncio
import signal
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import structlog
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.worker import Worker

from amigo_api import domains  # noqa: F401  (the SQL tables every domain declares)
from amigo_api.admin.sql.activities import mark_sql_query_failed, run_sql_query
from amigo_api.admin.sql.workflow import SqlQueryWorkflow
from amigo_api.settings import Settings
from amigo_api.workflows.probe import ProbeWorkflow, probe_activity

log = structlog.get_logger(__name__)
WORKFLOWS = [ProbeWorkflow, SqlQueryWorkflow]
ACTIVITIES: list[Callable[..., Any]] = [probe_activity, run_sql_query, mark_sql_query_failed]


async def connect(settings: Settings) -> Client:
    return await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace)


# Running activities get this long to finish on SIGTERM; Temporal retries what they leave.
SHUTDOWN_SECONDS = 5


async def run_worker(settings: Settings) -> None:
    client = await connect(settings)
    worker = Worker(client, task_queue=settings.temporal_task_queue, workflows=WORKFLOWS, activities=ACTIVITIES,
                    graceful_shutdown_timeout=timedelta(seconds=SHUTDOWN_SECONDS))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    log.info("worker_started", task_queue=settings.temporal_task_queue, address=settings.temporal_address)
    async with worker:
        await stop.wait()
    log.info("worker_stopped")


async def has_pollers(client: Client, settings: Settings) -> bool:
    """Whether some worker is polling the task queue right now."""
    response = await client.workflow_service.describe_task_queue(DescribeTaskQueueRequest(
        namespace=settings.temporal_namespace, task_queue=TaskQueue(name=settings.temporal_task_queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW))
    return len(response.pollers) > 0


async def probe(client: Client, settings: Settings) -> bool:
    nonce = uuid.uuid4().hex
    result = await client.execute_workflow(ProbeWorkflow.run, nonce, id=f"probe-{nonce}",
                                           task_queue=settings.temporal_task_queue,
                                           execution_timeout=timedelta(seconds=15))
    return bool(result == f"ok:{nonce}")
