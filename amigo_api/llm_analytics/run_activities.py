"""The activities of `run-evaluation`: prepare (the evaluation exists; the run is recorded), the Hog program or
the LLM judge, and the end (the `$ai_evaluation` event of a completed run, through the same code as captured
events, and the run's record). Each reads what it needs by id."""

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from amigo_api.admin.prompt_logs import schemas as prompt_log_schemas
from amigo_api.admin.prompt_logs import service as prompt_logs
from amigo_api.core.blobs import BlobStore
from amigo_api.core.clock import utcnow
from amigo_api.core.crypto import SecretBox
from amigo_api.core.db import Clusters, Document, OrgDb
from amigo_api.core.errors import Conflict
from amigo_api.core.outbound import OutboundPolicy, outbound_client
from amigo_api.hog.evaluation import event_io
from amigo_api.hog.pool import HogPool
from amigo_api.llm_analytics import capture, hog_testing, judge, judging, providers, run_records
from amigo_api.llm_analytics.evaluations import EVALUATIONS
from amigo_api.llm_analytics.repository import EventDocument, EventRepository
from amigo_api.llm_analytics.run_workflow import HogJob, RunEnd, RunJob
from amigo_api.settings import Settings

HOG_FIELDS = ("_id", "name", "evaluation_type", "evaluation_config", "output_config")
EVALUATION_EVENTS = uuid.UUID("0b6f4c7e-2d1a-4f36-9a57-3c1e8f5d2a90")  # the namespace of `$ai_evaluation` uuids


class EvaluationContext:
    """What the evaluation activities of one worker process share: settings, database clients, the service key
    (to open provider keys), the blob store (prompt logs), the Hog pool and one HTTP client (calls only where the
    outbound policy allows)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clusters = Clusters(settings)
        self.box = SecretBox(settings.secret_key)
        self.blobs = BlobStore(settings.blob_root)
        self.http = outbound_client(OutboundPolicy.from_settings(settings), settings.outbound_proxy)
        self.limits = hog_testing.limits_of(settings)
        self.hog = HogPool(settings.hog_processes, settings.hog_processes_per_organization, settings.hog_memory_mb)

    async def org(self, org_id: str) -> OrgDb:
        return await self.clusters.org_db(org_id)

    async def close(self) -> None:
        await self.hog.close()
        await self.http.aclose()
        await self.clusters.close()


def _workflow_id() -> str:
    info = activity.info()
    return info.workflow_id or info.activity_id


def _not_found(what: str) -> ApplicationError:
    return ApplicationError(f"{what} not found", type="not_found", non_retryable=True)


class EvaluationActivities:
    def __init__(self, context: EvaluationContext) -> None:
        self.context = context

    def all(self) -> list[Callable[..., Any]]:
        return [self.prepare_run, self.execute_hog_eval, self.execute_llm_judge, self.finish_run]

    async def _evaluation(self, org: OrgDb, job: RunJob) -> Document:
        """By id and environment; deleted or disabled ones run too (a run asked for is a run done)."""
        found = await org.db[EVALUATIONS].find_one({"_id": job.evaluation_id, "org_id": org.org_id,
                                                    "environment_id": job.environment_id})
        if found is None:
            raise _not_found(f"Evaluation {job.evaluation_id}")
        return dict(found)

    async def _event(self, org: OrgDb, job: RunJob) -> Document:
        found = await EventRepository(org).load_one({"_id": f"{job.environment_id}/{job.event_uuid}"})
        if found is None:
            raise _not_found(f"Event {job.event_uuid}")
        return dict(found)

    def _common(self, evaluation: Document, event: Document) -> dict[str, Any]:
        """What the end of the run needs to emit its event, so it reads nothing again."""
        return {"allows_na": bool((evaluation.get("output_config") or {}).get("allows_na")),
                "evaluation": {"name": evaluation["name"], "type": evaluation["evaluation_type"]},
                "target": {"uuid": event["uuid"], "event": event["event"], "distinct_id": event["distinct_id"],
                           "trace_id": (event.get("properties") or {}).get("$ai_trace_id")}}

    @activity.defn(name="prepare_run")
    async def prepare_run(self, job: RunJob) -> dict[str, Any]:
        """The evaluation; a Hog program's comes back with it (not read twice), a judge's run is recorded as
        started (it may take a while)."""
        org = await self.context.org(job.org_id)
        evaluation = await self._evaluation(org, job)
        brief = {"evaluation_type": evaluation["evaluation_type"], "name": evaluation["name"]}
        if evaluation["evaluation_type"] == "hog":
            return {**brief, "evaluation": {k: evaluation.get(k) for k in HOG_FIELDS}}
        await run_records.started(org, _workflow_id(), job)
        return brief

    @activity.defn(name="execute_hog_eval")
    async def execute_hog_eval(self, hog: HogJob) -> dict[str, Any]:
        """In a child of the worker's Hog pool: the worker's other activities keep running and heartbeating."""
        job, evaluation = hog.job, hog.evaluation
        org = await self.context.org(job.org_id)
        event = await self._event(org, job)
        common = self._common(evaluation, event)
        config = evaluation.get("evaluation_config") or {}
        program = ("stored", config.get("bytecode"), str(config.get("source") or ""))
        verdict = await self.context.hog.evaluate(job.org_id, program, event, common["allows_na"],
                                                  self.context.limits)
        if verdict.error is not None:
            await judging.set_status(org, {"_id": job.evaluation_id}, "hog_error")
            return {**common, "skipped": True, "skip_reason": "hog_error", "message": verdict.error}
        return {**common, "verdict": verdict.verdict, "reasoning": verdict.reasoning,
                "applicable": verdict.applicable}

    @activity.defn(name="execute_llm_judge")
    async def execute_llm_judge(self, job: RunJob) -> dict[str, Any]:
        org, context = await self.context.org(job.org_id), self.context
        evaluation, event = await self._evaluation(org, job), await self._event(org, job)
        common = self._common(evaluation, event)
        criteria = str((evaluation.get("evaluation_config") or {}).get("prompt") or "")
        if evaluation["evaluation_type"] != "llm_judge" or not criteria.strip() or \
                evaluation["output_type"] != "boolean":
            raise ApplicationError("Not an LLM judge evaluation with a prompt and a boolean output.",
                                   type="invalid_evaluation", non_retryable=True)
        try:
            key = await judging.resolve_key(org, context.box, context.settings, evaluation)
        except judging.Skip as skip:
            return {**common, "skipped": True, "skip_reason": skip.reason, "message": skip.message}
        given_input, given_output = event_io(event["event"], event.get("properties") or {})
        system, user = judge.system_prompt(criteria, common["allows_na"]), judge.user_prompt(given_input, given_output)
        await self._prompt_log(org, job, system, user)
        activity.heartbeat()
        try:
            completion = await judge_call(context.http, key, system, user, common["allows_na"])
            verdict = judge.read_verdict(completion.answer, common["allows_na"])
        except providers.ProviderError as error:
            if error.kind == "parse_error":
                await judging.give_back_trial(org, key)
                return {**common, "skipped": True, "skip_reason": "parse_error", "message": error.message}
            raise await judging.failed(org, evaluation, key, error) from error
        await judging.key_used(org, key)
        return {**common, "verdict": verdict.verdict, "reasoning": verdict.reasoning, "applicable": verdict.applicable,
                "is_byok": key.is_byok, "key_id": key.key_id, "model": key.model, "provider": key.provider,
                "input_tokens": completion.input_tokens, "output_tokens": completion.output_tokens,
                "total_tokens": completion.input_tokens + completion.output_tokens}

    async def _prompt_log(self, org: OrgDb, job: RunJob, system: str, user: str) -> None:
        """What the judge is shown, for admins to download (a retried call finds it written already)."""
        request = prompt_log_schemas.WritePromptLogRequest(
            log_key=f"llm-analytics/{job.environment_id}/{job.evaluation_id}/{job.event_uuid}", system_prompt=system,
            history_prompts=[user], required_permissions=[prompt_log_schemas.RequiredPermission(
                permission_name="LLMAnalytics:GetEvaluation")])
        with contextlib.suppress(Conflict):
            await prompt_logs.record_prompt_log(org, self.context.blobs,
                                                self.context.settings.prompt_log_retention_days, request)

    @activity.defn(name="finish_run")
    async def finish_run(self, end: RunEnd) -> None:
        org = await self.context.org(end.job.org_id)
        if end.status == "completed":
            await capture.store(org, [evaluation_event(end, _workflow_id())])
        await run_records.ended(org, _workflow_id(), end)


async def judge_call(client: httpx.AsyncClient, key: judging.JudgeKey, system: str, user: str, allows_na: bool
                     ) -> providers.Completion:
    """The provider call, heartbeating while it waits."""
    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(1)

    beating = asyncio.create_task(beat())
    try:
        return await providers.complete(client, key.provider, key.base_url, key.api_key, key.model, system, user,
                                        judge.schema(allows_na))
    finally:
        beating.cancel()


def evaluation_event(end: RunEnd, workflow_id: str) -> EventDocument:
    """The `$ai_evaluation` event (reference §5.4), stored as captured events are, with a uuid fixed by the run:
    emitted twice, stored once."""
    now = utcnow()
    raw = {"event": "$ai_evaluation", "distinct_id": end.outcome["target"]["distinct_id"],
           "uuid": str(uuid.uuid5(EVALUATION_EVENTS, workflow_id)), "timestamp": now.isoformat(),
           "properties": evaluation_properties(end)}
    document = capture.to_document(end.job.environment_id, raw, None, now)
    assert not isinstance(document, capture.Rejected)  # built from stored, valid events
    return document


def evaluation_properties(end: RunEnd) -> dict[str, Any]:
    outcome, job = end.outcome, end.job
    allows_na, target = outcome["allows_na"], outcome["target"]
    properties: dict[str, Any] = {
        "$ai_evaluation_id": job.evaluation_id, "$ai_evaluation_name": outcome["evaluation"]["name"],
        "$ai_evaluation_type": "online", "$ai_evaluation_runtime": outcome["evaluation"]["type"],
        "$ai_evaluation_start_time": end.started_at, "$ai_evaluation_allows_na": allows_na,
        "$ai_evaluation_reasoning": outcome.get("reasoning"), "$ai_target_event_id": target["uuid"],
        "$ai_target_event_type": target["event"], "$ai_trace_id": target["trace_id"]}
    if not allows_na or outcome.get("applicable"):
        properties["$ai_evaluation_result"] = outcome.get("verdict")
    if allows_na:
        properties["$ai_evaluation_applicable"] = bool(outcome.get("applicable"))
    if outcome["evaluation"]["type"] == "llm_judge":
        properties.update({
            "$ai_model": outcome["model"], "$ai_provider": outcome["provider"],
            "$ai_input_tokens": outcome["input_tokens"], "$ai_output_tokens": outcome["output_tokens"],
            "$ai_evaluation_model": outcome["model"], "$ai_evaluation_provider": outcome["provider"],
            "$ai_evaluation_key_type": "byok" if outcome["is_byok"] else "posthog",
            "$ai_evaluation_key_id": outcome["key_id"]})
    return properties
