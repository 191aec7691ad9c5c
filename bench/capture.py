"""Events per second ingested through `/batch/` (batches of 100 `$ai_generation` events of about 2 KB, as
PostHog's SDKs send them) against a bare FastAPI app inserting the same documents into the same database,
both driven by wrk.

Both sides are bound by the embedded database's inserts (about 1,000 events per second), so a batch of 100 waits
behind the others in flight: wrk runs CONNECTIONS connections with a TIMEOUT_SECONDS timeout, enough for every
answer to arrive in time (at 16 connections and 2 s, a batch took 1.3 s and answers timed out).

Runs with no arguments on its own embedded database. Last line: RESULT capture_ratio=<ours/bare>."""

import json
import os
from pathlib import Path

from harness import WRK_ROUNDS, WRK_SECONDS, WrkRound, mean, seeded_stack, serve, wrk

from amigo_api.bootstrap import bootstrap
from amigo_api.core.db import Clusters
from amigo_api.llm_analytics.repository import ensure_infra_indexes
from amigo_api.llm_analytics.service import create_environment
from amigo_api.settings import Settings

ORG = "bench"
EVENTS_PER_BATCH = 100
TARGET = 0.8
CONNECTIONS = 4
TIMEOUT_SECONDS = 10


def generation(index: int) -> dict[str, object]:
    """An `$ai_generation` event of about 2 KB, shaped like the posthog.ai wrappers' events."""
    return {"event": "$ai_generation", "distinct_id": f"user-{index % 17}", "properties": {
        "$ai_model": "gpt-4o-mini", "$ai_provider": "openai", "$ai_trace_id": f"trace-{index}",
        "$ai_input": [{"role": "system", "content": "You are a helpful assistant. " * 18},
                      {"role": "user", "content": "Summarize the conversation so far, please. " * 12}],
        "$ai_output_choices": [{"role": "assistant", "content": "Here is a short summary of it. " * 22}],
        "$ai_input_tokens": 412, "$ai_output_tokens": 96, "$ai_latency": 0.84, "$ai_http_status": 200}}


async def seed(settings: Settings) -> str:
    await bootstrap(settings, ORG, "bench@example.com", "DefaultSuperAdministratorRole")
    clusters = Clusters(settings)
    try:
        await ensure_infra_indexes(clusters.infra)
        environment = await create_environment(clusters.infra, ORG, {"org_id": ORG, "user_id": "bench"}, "bench")
    finally:
        await clusters.close()
    return environment.api_token


def post_load(url: str, script: Path, seconds: int = WRK_SECONDS) -> WrkRound:
    return wrk(url, {}, seconds=seconds, script=script, timeout_seconds=TIMEOUT_SECONDS, connections=CONNECTIONS)


def main() -> None:
    with seeded_stack("amigo-bench-capture-", seed) as stack:
        work = stack.work
        body = json.dumps({"api_key": stack.seeded, "batch": [generation(i) for i in range(EVENTS_PER_BATCH)]})
        print(f"batch body: {len(body) / 1024:.0f} KB, {len(body) / EVENTS_PER_BATCH / 1024:.1f} KB per event")
        (work / "body.json").write_text(body)
        script = work / "post.lua"
        script.write_text(f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                          f'wrk.body = io.open("{work / "body.json"}"):read("*a")\n')
        env = {**stack.env, "AMIGO_ACCESS_LOG_SAMPLE_RATE": "0", "BENCH_ORG": ORG, "BENCH_ENVIRONMENT": "1"}
        ours, ours_url = serve("amigo-api", ["--factory", "amigo_api.app:create_app"], env, work, "/healthz")
        stack.children.append(ours)
        bare, bare_url = serve("bare", ["bench.bare_capture:app"], env, work, "/docs")
        stack.children.append(bare)
        targets = {"amigo-api": f"{ours_url}/batch/", "bare": f"{bare_url}/batch/"}
        for url in targets.values():
            post_load(url, script, seconds=2)
        rates: dict[str, list[float]] = {name: [] for name in targets}
        for number in range(WRK_ROUNDS):
            for name, url in targets.items():
                rates[name].append(post_load(url, script).requests_per_second * EVENTS_PER_BATCH)
            print(f"round {number + 1}: " + ", ".join(f"{n} {r[-1]:.0f} events/s" for n, r in rates.items()),
                  flush=True)
        ours_rate, bare_rate = mean(rates["amigo-api"]), mean(rates["bare"])
        print(f"batches of {EVENTS_PER_BATCH}, {CONNECTIONS} connections, {TIMEOUT_SECONDS} s timeout: amigo-api "
              f"{ours_rate:.0f} events/s, bare FastAPI {bare_rate:.0f} events/s")
        print(f"RESULT capture_ratio={ours_rate / bare_rate:.2f} target=>={TARGET}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
