"""LLM analytics evaluation runs, end to end, on an embedded stack of their own (MongoDB-wire server, Temporal dev
server, the API, one worker):

1. Hog evaluation runs completed per second: generations captured through `/batch/`, matched by the worker's
   dispatcher against an enabled Hog evaluation (a condition every event passes, 100% rollout), each run a
   `run-evaluation` workflow, until every `$ai_evaluation` event is stored. Timed from the first capture to the
   last event.
2. Capture's ingest rate (wrk on `/batch/`) into an environment with 20 enabled evaluations against one with
   none. The worker is stopped for this part: matching is the worker's, never the request's, and on this
   2-core machine a busy worker would take the API's CPU whatever the request path does.

Runs with no arguments. Last line: RESULT eval_runs_per_s=<runs per second>."""

import asyncio
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from harness import ROOT, WRK_ROUNDS, mean, processes, serve, wrk
from pymongo import MongoClient

from amigo_api.bootstrap import bootstrap
from amigo_api.devstack import ChildProcess, start_mongo, start_temporal, wait_until
from amigo_api.settings import Settings

ORG = "bench"
RUNS = int(os.environ.get("BENCH_RUNS", "2000"))
BATCH = 100
TARGET = 50
INGEST_TARGET = 0.9
CONDITION = [{"properties": [{"key": "$ai_model", "value": "gpt-4o-mini", "operator": "exact"}],
              "rollout_percentage": 100}]


def generation(index: int) -> dict[str, Any]:
    return {"event": "$ai_generation", "distinct_id": f"user-{index % 17}", "properties": {
        "$ai_model": "gpt-4o-mini", "$ai_provider": "openai", "$ai_trace_id": f"trace-{index}",
        "$ai_input": [{"role": "user", "content": "Summarize the conversation so far, please. " * 4}],
        "$ai_output_choices": [{"role": "assistant", "content": "Here is a short summary of it. " * 8}]}}


class Api:
    def __init__(self, url: str, creds: dict[str, str]) -> None:
        token = httpx.post(f"{url}/v1/{ORG}/user/signin_with_api_key", headers={
            "x-api-key": creds["api_key"], "x-api-key-id": creds["api_key_id"],
            "x-user-id": creds["user_id"]}).json()["id_token"]
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        key = self.http.post(f"/v1/{ORG}/llm_analytics/api_keys/", json={"label": "bench", "scopes": ["*"]})
        self.key = {"Authorization": f"Bearer {key.json()['value']}"}

    def environment(self, name: str, evaluations: int) -> tuple[int, str]:
        environment = self.http.post(f"/v1/{ORG}/llm_analytics/environments/", json={"name": name}).json()
        for number in range(evaluations):
            created = self.http.post(f"/api/environments/{environment['id']}/evaluations/", headers=self.key, json={
                "name": f"e{number}", "evaluation_type": "hog", "output_type": "boolean", "enabled": True,
                "evaluation_config": {"source": "return length(output) > 10"}, "output_config": {},
                "conditions": CONDITION})
            created.raise_for_status()
        return int(environment["id"]), str(environment["api_token"])


def runs_per_second(api: Api, mongo_uri: str) -> float:
    environment_id, token = api.environment("throughput", 1)
    events = MongoClient(mongo_uri)[Settings().database_name]["events"]
    started = time.monotonic()
    for first in range(0, RUNS, BATCH):
        api.http.post("/batch/", json={"api_key": token, "batch": [generation(i) for i in range(first, first + BATCH)]}
                      ).raise_for_status()
    done, reported = 0, 0.0
    while done < RUNS:
        time.sleep(0.2)
        done = events.count_documents({"environment_id": environment_id, "event": "$ai_evaluation"})
        if time.monotonic() - reported > 5:
            print(f"  {done} of {RUNS} runs done after {time.monotonic() - started:.1f} s", flush=True)
            reported = time.monotonic()
        if time.monotonic() - started > 600:
            raise RuntimeError(f"only {done} of {RUNS} runs in 10 minutes")
    elapsed = time.monotonic() - started
    print(f"{RUNS} Hog evaluation runs, capture to $ai_evaluation event: {elapsed:.1f} s", flush=True)
    return RUNS / elapsed


def ingest_ratio(api: Api, work: Path) -> float:
    rates: dict[str, list[float]] = {"none": [], "20 evaluations": []}
    scripts = {}
    for name, count in (("none", 0), ("20 evaluations", 20)):
        _, token = api.environment(name, count)
        body = {"api_key": token, "batch": [generation(i) for i in range(BATCH)]}
        (work / f"{count}.json").write_text(json.dumps(body))
        scripts[name] = work / f"{count}.lua"
        scripts[name].write_text(f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                                 f'wrk.body = io.open("{work / f"{count}.json"}"):read("*a")\n')
    url = f"{api.http.base_url}/batch/"
    for script in scripts.values():
        wrk(url, {}, seconds=2, script=script, timeout_seconds=30)
    for number in range(WRK_ROUNDS):
        for name, script in scripts.items():
            rates[name].append(wrk(url, {}, script=script, timeout_seconds=30).requests_per_second * BATCH)
        print(f"round {number + 1}: " + ", ".join(f"{n} {r[-1]:.0f} events/s" for n, r in rates.items()), flush=True)
    return mean(rates["20 evaluations"]) / mean(rates["none"])


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="amigo-bench-evals-"))
    with processes() as children:
        mongo, uri = start_mongo(work / "mongo")
        children.append(mongo)
        temporal, address = start_temporal(work / "temporal")
        children.append(temporal)
        secret = secrets.token_urlsafe(48)
        settings = Settings(mongo_uri=uri, secret_key=secret, temporal_address=address)
        creds = asyncio.run(bootstrap(settings, ORG, "bench@example.com", "DefaultSuperAdministratorRole"))
        env = {"AMIGO_MONGO_URI": uri, "AMIGO_SECRET_KEY": secret, "AMIGO_TEMPORAL_ADDRESS": address,
               "AMIGO_TEMPORAL_REQUIRED": "true", "AMIGO_RATE_LIMIT_SCALE": "100000", "AMIGO_LOG_LEVEL": "WARNING",
               "AMIGO_ACCESS_LOG_SAMPLE_RATE": "0", "AMIGO_BLOB_ROOT": str(work / "blobs"),
               "AMIGO_GIT_ROOT": str(work / "git"), "PYTHONPATH": str(ROOT)}
        worker = ChildProcess("worker", [sys.executable, "-m", "amigo_api", "worker", "--queue", "main"],
                              work / "worker.log", env)
        worker.start()
        children.append(worker)
        api, url = serve("amigo-api", ["--factory", "amigo_api.app:create_app"], env, work, "/healthz")
        children.append(api)
        client = Api(url, creds)
        wait_until(lambda: worker.process is not None and worker.process.poll() is None, 30, "worker",
                   worker.process, worker.log_file)
        rate = runs_per_second(client, uri)
        worker.stop()
        ratio = ingest_ratio(client, work)
        print(f"capture with 20 enabled evaluations / with none: {ratio:.2f} (target >= {INGEST_TARGET})")
        print(f"RESULT eval_runs_per_s={rate:.1f} target=>={TARGET}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
