"""Evaluation runs end to end (reference §5): the API and a worker as processes, the Temporal dev server, events
captured through `/batch/`, and an LLM provider stub on loopback (tests/llmstub.py)."""

import asyncio
import hashlib
import os
import signal
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pymongo import MongoClient
from pymongo.database import Database

from amigo_api.settings import Settings
from tests.conftest import Caller
from tests.llm import environment_with_key
from tests.llmstub import LlmStub
from tests.toolstack import TRIAL_KEY, Stack, start_worker

GENERATION_INPUT = [{"role": "user", "content": "What is 2 + 2?"}]


@pytest.fixture(scope="module")
def db(settings: Settings) -> Iterator[Database[dict[str, Any]]]:
    client: MongoClient[dict[str, Any]] = MongoClient(settings.mongo_uri)
    yield client[settings.database_name]
    client.close()


class Environment:
    def __init__(self, http: httpx.AsyncClient, base: str, key: dict[str, str]) -> None:
        self.http, self.base, self.key = http, base, key

    async def capture(self, *events: dict[str, Any]) -> None:
        token = (await self.http.get(f"{self.base}/", headers=self.key)).json()["api_token"]
        answer = await self.http.post("/batch/", json={"api_key": token, "batch": list(events)})
        assert answer.status_code == 200, answer.text

    async def evaluation(self, **fields: Any) -> dict[str, Any]:
        body = {"name": "judge", "evaluation_type": "hog", "output_type": "boolean", "output_config": {},
                "evaluation_config": {"source": "return true"}, **fields}
        answer = await self.http.post(f"{self.base}/evaluations/", headers=self.key, json=body)
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    async def provider_key(self, provider: str, url: str, api_key: str = "sk-byok-secret-0123456789") -> str:
        answer = await self.http.post(f"{self.base}/llm_analytics/provider_keys/", headers=self.key, json={
            "provider": provider, "name": provider, "api_key": api_key, "base_url": url})
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    async def byok_judge(self, url: str, **fields: Any) -> tuple[str, dict[str, Any]]:
        """A provider key for the server at `url`, and an LLM judge evaluation that uses it."""
        key_id = await self.provider_key("openai", url)
        evaluation = await self.evaluation(
            evaluation_type="llm_judge", evaluation_config={"prompt": "Correct?"},
            model_configuration={"provider": "openai", "model": "judge-model", "provider_key_id": key_id}, **fields)
        return key_id, evaluation

    async def run(self, evaluation: dict[str, Any], event: dict[str, Any]) -> str:
        answer = await self.http.post(f"{self.base}/evaluation_runs/", headers=self.key, json={
            "evaluation_id": evaluation["id"], "target_event_id": event["uuid"].replace("-", ""),
            "timestamp": event["timestamp"]})
        assert answer.status_code == 202, answer.text
        body = answer.json()
        assert body["status"] == "started"
        assert body["evaluation"] == {"id": evaluation["id"], "name": evaluation["name"]}
        return str(body["workflow_id"])

    async def ended(self, evaluation: dict[str, Any], run_id: str, seconds: float = 60) -> dict[str, Any]:
        for _ in range(int(seconds * 10)):
            runs = (await self.http.get(f"{self.base}/evaluations/{evaluation['id']}/runs/", headers=self.key)).json()
            found = next((r for r in runs["results"] if r["id"] == run_id), None)
            if found is not None and found["status"] != "started":
                return dict(found)
            await asyncio.sleep(0.1)
        raise AssertionError(f"run {run_id} did not end")


def generation(output: str, model: str = "m", **properties: Any) -> dict[str, Any]:
    return {"event": "$ai_generation", "distinct_id": "user-7", "uuid": str(uuid.uuid4()),
            "timestamp": datetime.now(UTC).isoformat(),
            "properties": {"$ai_model": model, "$ai_input": GENERATION_INPUT, "$ai_output_choices": output,
                           "$ai_trace_id": "trace-1", **properties}}


def evaluation_events(db: Database[dict[str, Any]], target: dict[str, Any]) -> list[dict[str, Any]]:
    return list(db["events"].find({"event": "$ai_evaluation", "properties.$ai_target_event_id": target["uuid"]}))


@pytest.fixture
async def env(http: httpx.AsyncClient, admin: Caller) -> Environment:
    base, key = await environment_with_key(http, admin, "*")
    return Environment(http, base, key)


async def test_a_hog_run_emits_its_evaluation_event(env: Environment, db: Database[dict[str, Any]]) -> None:
    source = "print('length', length(output))\nreturn length(output) > 3"
    evaluation = await env.evaluation(evaluation_config={"source": source})
    event = generation("four")
    await env.capture(event)
    run = await env.ended(evaluation, await env.run(evaluation, event))
    assert (run["status"], run["verdict"], run["reasoning"], run["trigger"]) == ("completed", True, "length 4",
                                                                                   "manual")
    [emitted] = evaluation_events(db, event)
    properties = emitted["properties"]
    assert emitted["distinct_id"] == "user-7" and "eval_pending" not in emitted
    assert {k: properties[k] for k in ("$ai_evaluation_id", "$ai_evaluation_name", "$ai_evaluation_type",
                                        "$ai_evaluation_runtime", "$ai_evaluation_allows_na",
                                        "$ai_evaluation_reasoning", "$ai_evaluation_result", "$ai_target_event_id",
                                        "$ai_target_event_type", "$ai_trace_id")} == {
        "$ai_evaluation_id": evaluation["id"], "$ai_evaluation_name": "judge", "$ai_evaluation_type": "online",
        "$ai_evaluation_runtime": "hog", "$ai_evaluation_allows_na": False, "$ai_evaluation_reasoning": "length 4",
        "$ai_evaluation_result": True, "$ai_target_event_id": event["uuid"], "$ai_target_event_type": "$ai_generation",
        "$ai_trace_id": "trace-1"}
    assert datetime.fromisoformat(properties["$ai_evaluation_start_time"]) <= emitted["timestamp"].replace(tzinfo=UTC)

    not_applicable = await env.evaluation(output_config={"allows_na": True},
                                          evaluation_config={"source": "return null"})
    run = await env.ended(not_applicable, await env.run(not_applicable, event))
    [na] = [e for e in evaluation_events(db, event) if e["properties"]["$ai_evaluation_id"] == not_applicable["id"]]
    assert run["status"] == "completed" and na["properties"]["$ai_evaluation_applicable"] is False
    assert "$ai_evaluation_result" not in na["properties"]

    failing = await env.evaluation(evaluation_config={"source": "return 42"})
    run = await env.ended(failing, await env.run(failing, event))
    assert (run["status"], run["skip_reason"]) == ("skipped", "hog_error")
    assert "Must return boolean" in run["message"]
    assert not [e for e in evaluation_events(db, event) if e["properties"]["$ai_evaluation_id"] == failing["id"]]
    stopped = (await env.http.get(f"{env.base}/evaluations/{failing['id']}/", headers=env.key)).json()
    assert (stopped["status"], stopped["status_reason"], stopped["enabled"]) == ("error", "hog_error", False)


async def test_llm_judge_runs_with_a_provider_key(env: Environment, llm: LlmStub, db: Database[dict[str, Any]]
                                                  ) -> None:
    key_id = await env.provider_key("openai", llm.url)
    evaluation = await env.evaluation(
        evaluation_type="llm_judge", evaluation_config={"prompt": "Is the answer correct?"},
        model_configuration={"provider": "openai", "model": "judge-model", "provider_key_id": key_id})
    answer = f"4 (answer {uuid.uuid4().hex[:8]})"
    event = generation(answer)
    await env.capture(event)
    run = await env.ended(evaluation, await env.run(evaluation, event))
    assert (run["status"], run["verdict"], run["reasoning"]) == ("completed", True, "Judged (fine).")
    [emitted] = evaluation_events(db, event)
    properties = emitted["properties"]
    assert {k: properties[k] for k in ("$ai_evaluation_runtime", "$ai_model", "$ai_provider", "$ai_input_tokens",
                                        "$ai_output_tokens", "$ai_evaluation_key_type", "$ai_evaluation_key_id")} == {
        "$ai_evaluation_runtime": "llm_judge", "$ai_model": "judge-model", "$ai_provider": "openai",
        "$ai_input_tokens": 11, "$ai_output_tokens": 7, "$ai_evaluation_key_type": "byok",
        "$ai_evaluation_key_id": key_id}
    request = next(s for s in llm.seen if answer in str(s.body))
    assert request.headers["authorization"] == "Bearer sk-byok-secret-0123456789"
    system, user = request.body["messages"][0]["content"], request.body["messages"][1]["content"]
    assert "Is the answer correct?" in system and user == f"Input: user: What is 2 + 2?\n\nOutput: {answer}"
    assert request.body["response_format"]["type"] == "json_schema"
    log = db["prompt_logs"].find_one({"log_key": f"llm-analytics/{env.base.rsplit('/', 1)[1]}/{evaluation['id']}/"
                                                 f"{event['uuid']}"})
    assert log is not None and log["system_prompt_bytes"] == len(system.encode())
    assert db["llm_provider_keys"].find_one({"_id": key_id})["last_used_at"] is not None  # type: ignore[index]


@pytest.mark.parametrize(("marker", "status", "key_state", "reason"), [
    ("401", "failed", "invalid", "provider_key_invalid"),
    ("403", "failed", "error", "provider_key_permission_denied"),
    ("quota", "failed", "error", "provider_key_quota_exceeded"),
    ("429", "failed", "error", "provider_key_rate_limited"),
    ("malformed", "skipped", "ok", None),
])
async def test_provider_failures_map_to_run_and_key_states(env: Environment, llm: LlmStub,
                                                           db: Database[dict[str, Any]], marker: str, status: str,
                                                           key_state: str, reason: str | None) -> None:
    key_id, evaluation = await env.byok_judge(llm.url, enabled=True)
    event = generation(f"[stub:{marker}]")
    await env.capture(event)
    run = await env.ended(evaluation, await env.run(evaluation, event))
    assert run["status"] == status and not evaluation_events(db, event)
    key = db["llm_provider_keys"].find_one({"_id": key_id})
    assert key is not None and key["state"] == key_state, run["message"]
    assert "sk-byok-secret" not in str(key["error_message"]) and "sk-byok-secret" not in str(run["message"])
    stored = (await env.http.get(f"{env.base}/evaluations/{evaluation['id']}/", headers=env.key)).json()
    assert stored["status_reason"] == reason
    if marker == "malformed":
        assert run["skip_reason"] == "parse_error" and stored["enabled"] is True


async def test_a_server_error_is_tried_again(env: Environment, llm: LlmStub, db: Database[dict[str, Any]]) -> None:
    _, evaluation = await env.byok_judge(llm.url)
    event = generation("[stub:500-once]")
    await env.capture(event)
    run = await env.ended(evaluation, await env.run(evaluation, event), seconds=90)
    assert run["status"] == "completed" and len(evaluation_events(db, event)) == 1


async def test_a_provider_error_shows_its_status_and_message_never_its_body(
        env: Environment, llm: LlmStub, db: Database[dict[str, Any]]) -> None:
    key_id, evaluation = await env.byok_judge(llm.url)
    event = generation("[stub:500-leaky]")
    await env.capture(event)
    run = await env.ended(evaluation, await env.run(evaluation, event), seconds=120)  # tried three times
    assert run["status"] == "failed" and run["message"] == "The provider answered 500: Upstream failed for ***"
    key = db["llm_provider_keys"].find_one({"_id": key_id})
    assert key is not None and "INTERNAL" not in str(key["error_message"])


async def test_the_trial_and_its_quota(env: Environment, llm: LlmStub, db: Database[dict[str, Any]]) -> None:
    evaluation = await env.evaluation(evaluation_type="llm_judge", evaluation_config={"prompt": "Correct?"},
                                      enabled=True,
                                      model_configuration={"provider": "openai", "model": "gpt-5-mini"})
    event = generation("[stub:false]")
    await env.capture(event)
    run = await env.ended(evaluation, await env.run(evaluation, event))
    assert (run["status"], run["verdict"]) == ("completed", False)
    [emitted] = evaluation_events(db, event)
    assert emitted["properties"]["$ai_evaluation_key_type"] == "posthog"
    assert any(s.headers.get("authorization") == f"Bearer {TRIAL_KEY}" for s in llm.seen)
    config = (await env.http.get(f"{env.base}/llm_analytics/evaluation_config/", headers=env.key)).json()
    assert (config["trial_evals_used"], config["trial_evals_remaining"]) == (1, 99)

    db["llm_evaluation_configs"].update_one({"_id": env.base.rsplit("/", 1)[1]}, {"$set": {"trial_evals_used": 100}})
    second = generation("again")
    await env.capture(second)
    run = await env.ended(evaluation, await env.run(evaluation, second))
    assert (run["status"], run["skip_reason"]) == ("skipped", "trial_limit_reached")
    stopped = (await env.http.get(f"{env.base}/evaluations/{evaluation['id']}/", headers=env.key)).json()
    assert (stopped["enabled"], stopped["status_reason"]) == (False, "trial_limit_reached")
    config = (await env.http.get(f"{env.base}/llm_analytics/evaluation_config/", headers=env.key)).json()
    assert config["trial_evals_used"] == 100


async def test_the_anthropic_adapter(env: Environment, llm: LlmStub, db: Database[dict[str, Any]]) -> None:
    key_id = await env.provider_key("anthropic", llm.url, "sk-ant-secret-0123456789")
    evaluation = await env.evaluation(
        evaluation_type="llm_judge", evaluation_config={"prompt": "Correct?"}, output_config={"allows_na": True},
        model_configuration={"provider": "anthropic", "model": "claude-judge", "provider_key_id": key_id})
    event = generation("[stub:na]")
    await env.capture(event)
    run = await env.ended(evaluation, await env.run(evaluation, event))
    assert (run["status"], run["applicable"], run["verdict"]) == ("completed", False, None)
    request = next(s for s in llm.seen if s.path.endswith("/messages") and event["uuid"] not in str(s.body)
                   and "[stub:na]" in s.body["messages"][0]["content"])
    assert request.headers["x-api-key"] == "sk-ant-secret-0123456789" and request.body["tool_choice"]["type"] == "tool"
    [emitted] = evaluation_events(db, event)
    assert emitted["properties"]["$ai_evaluation_applicable"] is False and emitted["properties"]["$ai_provider"] == \
        "anthropic"


async def test_a_worker_killed_mid_judgement_is_replaced(env: Environment, llm: LlmStub, stack: Stack,
                                                         db: Database[dict[str, Any]]) -> None:
    key_id = await env.provider_key("openai", llm.url)
    evaluation = await env.evaluation(
        evaluation_type="llm_judge", evaluation_config={"prompt": "Correct?"},
        model_configuration={"provider": "openai", "model": "judge-model", "provider_key_id": key_id})
    event = generation(f"[stub:slow] {uuid.uuid4()}")
    await env.capture(event)
    run_id = await env.run(evaluation, event)
    marker = event["properties"]["$ai_output_choices"]
    for _ in range(300):
        if any(marker in str(s.body) for s in llm.seen):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the judge was never called")
    assert stack.worker.process is not None
    os.kill(stack.worker.process.pid, signal.SIGKILL)
    stack.worker.process.wait()
    stack.worker = start_worker(stack.env, stack.log_dir, "worker-after-judge-kill")
    run = await env.ended(evaluation, run_id, seconds=120)
    assert run["status"] == "completed"
    assert len(evaluation_events(db, event)) == 1  # the call was made again; the event emitted once
    assert sum(marker in str(s.body) for s in llm.seen) >= 2


def in_sample(event_uuid: str, rollout: float) -> bool:
    return (int(hashlib.md5(event_uuid.encode()).hexdigest()[:8], 16) % 10000) / 100 < rollout  # noqa: S324


async def test_automatic_runs_follow_conditions_and_sampling(env: Environment, db: Database[dict[str, Any]]) -> None:
    conditions = [{"properties": [{"key": "$ai_model", "value": "auto", "operator": "exact"}],
                   "rollout_percentage": 30}]
    sampled = await env.evaluation(name="sampled", enabled=True, conditions=conditions)
    disabled = await env.evaluation(name="disabled", enabled=False, conditions=conditions)
    unconditioned = await env.evaluation(name="no conditions", enabled=True)
    events = [generation("x", model="auto") for _ in range(1000)]
    others = [generation("x", model="other") for _ in range(50)]
    for start in range(0, len(events), 250):
        await env.capture(*events[start:start + 250])
    await env.capture(*others)
    expected = {e["uuid"] for e in events if in_sample(e["uuid"], 30)}

    def evaluated(evaluation: dict[str, Any]) -> list[str]:
        return [e["properties"]["$ai_target_event_id"] for e in db["events"].find(
            {"event": "$ai_evaluation", "properties.$ai_evaluation_id": evaluation["id"]})]

    for _ in range(1800):
        if len(evaluated(sampled)) >= len(expected) and not db["events"].count_documents(
                {"eval_pending": True, "environment_id": int(env.base.rsplit("/", 1)[1])}):
            break
        await asyncio.sleep(0.1)
    await env.capture(*events[:100])  # sent again: stored once, so never evaluated again
    await asyncio.sleep(2)
    found = evaluated(sampled)
    assert sorted(found) == sorted(expected) and 200 < len(expected) < 400
    assert evaluated(disabled) == [] and evaluated(unconditioned) == []
    runs = (await env.http.get(f"{env.base}/evaluations/{sampled['id']}/runs/", headers=env.key,
                               params={"limit": 5})).json()
    assert runs["count"] == len(expected) and {r["trigger"] for r in runs["results"]} == {"automatic"}
