"""The Temporal worker entry point: every workflow and activity of the product is registered here."""

import asyncio
import contextlib
import os
import signal
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
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
from amigo_api.core.startup import connect_temporal, wait_for_databases
from amigo_api.llm_analytics.dispatcher import Dispatcher
from amigo_api.llm_analytics.run_activities import EvaluationActivities, EvaluationContext
from amigo_api.llm_analytics.run_workflow import RunEvaluationWorkflow
from amigo_api.sandbox.confinement import SandboxUnavailable, check_bubblewrap
from amigo_api.sandbox.runner import CGROUP_HINT
from amigo_api.settings import Settings
from amigo_api.tools.activity_support import WorkerContext
from amigo_api.tools.publish_activities import PublishActivities
from amigo_api.tools.publish_workflow import PublishToolVersionWorkflow
from amigo_api.tools.run_activities import RunActivities
from amigo_api.tools.run_workflow import InvokeToolWorkflow, TestToolWorkflow
from amigo_api.tools.runtime import isolation
from amigo_api.workflows.heartbeat import beat
from amigo_api.workflows.probe import ProbeWorkflow, probe_activity

log = structlog.get_logger(__name__)
WORKFLOWS = [ProbeWorkflow, SqlQueryWorkflow]
ACTIVITIES: list[Callable[..., Any]] = [probe_activity, run_sql_query, mark_sql_query_failed]
TOOL_WORKFLOWS = [PublishToolVersionWorkflow, InvokeToolWorkflow, TestToolWorkflow]


# Running activities get this long to finish on SIGTERM; Temporal retries what they leave.
SHUTDOWN_SECONDS = 5
EXIT_GRACE_SECONDS = 1


def _workers(client: Client, settings: Settings, *, evaluation_context: EvaluationContext | None,
             tool_context: WorkerContext | None) -> list[Worker]:
    queues: list[tuple[str, list[Any], list[Callable[..., Any]]]] = []
    if evaluation_context is not None:
        queues.append((settings.temporal_task_queue, WORKFLOWS, ACTIVITIES))
        queues.append((settings.llm_evaluations_task_queue, [RunEvaluationWorkflow],
                       EvaluationActivities(evaluation_context).all()))
    if tool_context is not None:
        tool_activities = PublishActivities(tool_context).all() + RunActivities(tool_context).all()
        queues.append((settings.tool_task_queue, TOOL_WORKFLOWS, tool_activities))
    return [Worker(client, task_queue=queue, workflows=workflows, activities=activities,
                   graceful_shutdown_timeout=timedelta(seconds=SHUTDOWN_SECONDS))
            for queue, workflows, activities in queues]


async def run_worker(settings: Settings, *, main: bool = True, tools: bool = True) -> None:
    """Serve the main task queues (with LLM analytics evaluations and their dispatcher), the tools task queue, or
    both, until a signal stops the process."""
    await wait_for_databases(settings)
    client = await connect_temporal(settings)
    if tools:
        _check_sandbox(settings)
    tool_context = WorkerContext(settings) if tools else None
    evaluation_context = EvaluationContext(settings) if main else None
    workers = _workers(client, settings, evaluation_context=evaluation_context, tool_context=tool_context)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    async with contextlib.AsyncExitStack() as running:
        if tool_context is not None:
            running.push_async_callback(tool_context.close)
        if evaluation_context is not None:
            running.push_async_callback(evaluation_context.close)
        for worker in workers:
            await running.enter_async_context(worker)
        # On the way out, every queue's worker stops at once (each may wait for its graceful shutdown).
        running.push_async_callback(lambda: asyncio.gather(*(w.shutdown() for w in workers)))
        if evaluation_context is not None:
            # Stopped at once: a batch cut short is matched again by the next worker, and its runs, named by
            # evaluation and event, are not started twice.
            dispatcher = asyncio.create_task(Dispatcher(evaluation_context.clusters, client, settings).run(stop))
            running.callback(dispatcher.cancel)
        beating = asyncio.create_task(beat(Path(settings.worker_heartbeat_file), stop))
        running.callback(beating.cancel)
        log.info("worker_started", task_queues=[w.task_queue for w in workers], address=settings.temporal_address)
        await stop.wait()
        _exit_after(SHUTDOWN_SECONDS + EXIT_GRACE_SECONDS)
    log.info("worker_stopped")


def _exit_after(seconds: float) -> None:
    """A worker whose Temporal server went away with it (a stack stopped as a whole) can wait on it forever while
    shutting down: past the graceful time, the process ends anyway. Temporal gives whatever it left to another
    worker."""
    def leave() -> None:
        log.warning("worker_shutdown_timed_out", seconds=seconds)
        os._exit(0)
    timer = threading.Timer(seconds, leave)
    timer.daemon = True
    timer.start()


def _check_sandbox(settings: Settings) -> None:
    """Say at start, not at the first publish, when this host cannot confine tool code."""
    if not settings.tool_sandbox:
        log.warning("tool_sandbox_disabled", hint="AMIGO_TOOL_SANDBOX=false: tool code runs without isolation; "
                                                  "development only.")
        return
    try:
        check_bubblewrap()
    except SandboxUnavailable as error:
        log.error("tool_sandbox_unavailable", error=str(error))
    found = isolation(settings)
    if found.cgroups is None and found.require_cgroups:
        log.error("tool_cgroups_unavailable", error=found.cgroup_error, hint=CGROUP_HINT)
    elif found.cgroups is None:
        log.warning("tool_runs_without_cgroups", error=found.cgroup_error,
                    hint="AMIGO_TOOL_REQUIRE_CGROUPS=false: a run is bounded by per-process limits only; "
                         "development only.")


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
