"""Event capture from the official `posthog` SDK into a live API process, in each of its modes (v0 batch, the
AI lane, capture v1), its `posthog.ai` OpenAI wrapper against a local OpenAI-compatible stub on loopback, and
what the capture endpoints refuse. Events are read back through the admin SQL endpoint."""

import gzip
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from posthog import Posthog
from posthog.ai.openai import OpenAI

from amigo_api.llm_analytics.capture_limits import BATCH_LIMITS, MiB
from amigo_api.settings import Settings
from tests.conftest import Caller
from tests.live import live_api, post_while_reading, status_after_partial_body

COMPLETION = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1767225600, "model": "stub-model",
              "choices": [{"index": 0, "finish_reason": "stop",
                           "message": {"role": "assistant", "content": "Hello from the stub."}}],
              "usage": {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12}}


class _Stub(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        self.rfile.read(int(self.headers.get("content-length", 0)))
        payload = json.dumps(COMPLETION).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_: Any) -> None:
        return


@pytest.fixture(scope="module")
def openai_stub() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


@pytest.fixture(scope="module")
def capture_url(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with live_api(settings, tmp_path_factory.mktemp("logs"), "api-capture", AMIGO_RATE_LIMIT_SCALE="10") as url:
        yield url


async def _environment(client: httpx.AsyncClient, caller: Caller) -> dict[str, Any]:
    response = await client.post(f"/v1/{caller.org_id}/llm_analytics/environments/", headers=caller.headers,
                                 json={"name": "capture"})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def _events(client: httpx.AsyncClient, caller: Caller, environment_id: int) -> list[dict[str, Any]]:
    response = await client.post(f"/v1/{caller.org_id}/admin/sql_query", headers=caller.headers, json={
        "sql_query": f"select uuid, event, distinct_id, properties from events where environment_id = "
                     f"{environment_id} order by timestamp", "async_query": False})
    assert response.status_code == 200, response.text
    columns = response.json()["columns"]
    return [dict(zip([c["name"] if isinstance(c, dict) else c for c in columns], row, strict=True))
            for row in response.json()["result"]]


def _properties(event: dict[str, Any]) -> dict[str, Any]:
    return dict(event["properties"])  # a JSON column: answered as the object it holds


async def test_the_sdk_captures_in_every_mode(client: httpx.AsyncClient, admin: Caller, capture_url: str,
                                              openai_stub: str) -> None:
    environment = await _environment(client, admin)
    token = environment["api_token"]
    generation = {"$ai_model": "gpt-test", "$ai_provider": "openai", "$ai_input_tokens": 3, "$ai_trace_id": "t1"}
    modes: list[tuple[str, dict[str, Any]]] = [("v0", {}), ("ai-lane", {"enable_full_ai_capture": True}),
                                               ("v1", {"capture_mode": "v1"})]
    for name, options in modes:
        sdk = Posthog(token, host=capture_url, sync_mode=True, **options)
        if name == "ai-lane":
            sdk.capture_ai("$ai_generation", distinct_id=f"user-{name}", properties={**generation, "mode": name})
        else:
            sdk.capture("$ai_generation", distinct_id=f"user-{name}", properties={**generation, "mode": name})
        sdk.shutdown()

    sdk = Posthog(token, host=capture_url, sync_mode=True)
    wrapped = OpenAI(api_key="sk-test", base_url=openai_stub, posthog_client=sdk)
    answer = wrapped.chat.completions.create(model="stub-model", posthog_distinct_id="user-openai",
                                             messages=[{"role": "user", "content": "Say hello"}])
    assert answer.choices[0].message.content == "Hello from the stub."
    sdk.shutdown()

    events = await _events(client, admin, environment["id"])
    by_user = {e["distinct_id"]: e for e in events}
    assert {"user-v0", "user-ai-lane", "user-v1", "user-openai"} <= set(by_user)
    for name, _ in modes:
        properties = _properties(by_user[f"user-{name}"])
        assert properties["mode"] == name and properties["$ai_model"] == "gpt-test", name
    openai_event = by_user["user-openai"]
    assert openai_event["event"] == "$ai_generation"
    properties = _properties(openai_event)
    assert properties["$ai_model"] == "stub-model" and properties["$ai_input_tokens"] == 7
    assert properties["$ai_output_tokens"] == 5 and "Hello from the stub." in json.dumps(properties)


async def test_what_capture_refuses(client: httpx.AsyncClient, admin: Caller, capture_url: str) -> None:
    environment = await _environment(client, admin)
    token = environment["api_token"]
    async with httpx.AsyncClient(base_url=capture_url, timeout=60) as http:
        unknown = await http.post("/batch/", json={"api_key": "phc_unknown", "batch": [
            {"event": "$ai_generation", "distinct_id": "u", "properties": {}}]})
        assert unknown.status_code == 401 and unknown.json()["code"] == "invalid_api_key"
        assert set(unknown.json()) == {"type", "code", "detail", "attr"}

        event_id = str(uuid.uuid4())
        body = {"api_key": token, "batch": [{"event": "$ai_generation", "distinct_id": "again", "uuid": event_id,
                                             "properties": {}}]}
        for _ in range(2):  # a re-sent uuid is stored once
            assert (await http.post("/batch", json=body)).status_code == 200
        compressed = gzip.compress(json.dumps({**body, "batch": [{**body["batch"][0], "uuid": str(uuid.uuid4())}]})
                                   .encode())
        zipped = await http.post("/e/?compression=gzip-js", content=compressed,
                                 headers={"content-type": "text/plain"})
        assert zipped.status_code == 200, zipped.text
        v1 = await http.post("/i/v1/analytics/events", headers={"Authorization": f"Bearer {token}"}, json={
            "created_at": "2026-11-25T00:00:00Z", "batch": [
                {"event": "ok", "distinct_id": "v1", "uuid": str(uuid.uuid4()), "properties": {}},
                {"event": "", "distinct_id": "v1", "uuid": (bad := str(uuid.uuid4())), "properties": {}}]})
        assert v1.status_code == 200 and v1.json()["results"][bad]["result"] == "drop"

        assert status_after_partial_body(capture_url, "/batch/", {"Content-Length": str(BATCH_LIMITS.body_bytes + 1)},
                                         b"{") == 413
        bomb = gzip.compress(b" " * (BATCH_LIMITS.inflated_bytes + 1024))
        exploded = await http.post("/batch/", content=bomb, headers={"content-encoding": "gzip"})
        assert exploded.status_code == 413 and exploded.json()["code"] == "request_too_large"
        invalid = await http.post("/batch/", json={"api_key": token, "batch": [{"event": "x"}]})
        assert invalid.status_code == 400 and invalid.json()["type"] == "validation_error"
        garbage = await http.post("/capture/", content=b"{not json", headers={"content-type": "application/json"})
        assert garbage.status_code == 400 and garbage.json()["code"] == "parse_error"
        operators = await http.post("/batch/", json={"api_key": {"$ne": ""}, "batch": [
            {"event": "x", "distinct_id": "y"}]})
        assert operators.status_code == 401

    events = await _events(client, admin, environment["id"])
    assert [e["distinct_id"] for e in events].count("again") == 2  # the first uuid once, the gzip one once
    assert "v1" in [e["distinct_id"] for e in events]


async def test_oversized_bodies_and_events_get_413_and_v1_drops_only_the_event(
        client: httpx.AsyncClient, admin: Caller, capture_url: str) -> None:
    token = (await _environment(client, admin))["api_token"]
    seventeen = json.dumps({"api_key": token, "batch": [{"event": "big", "distinct_id": "d",
                                                         "properties": {"s": "x" * (17 * MiB)}}]}).encode()
    status, payload = post_while_reading(capture_url, "/i/v0/e/", {"Content-Length": str(len(seventeen))}, seventeen)
    assert status == 413 and json.loads(payload) == {
        "type": "invalid_request", "code": "request_too_large", "attr": None,
        "detail": "An event is larger than 1048576 bytes."}
    # not buffered by the request guard: a chunked body is read as it streams and refused where it crosses 20 MiB
    spaces = b'{"api_key": "' + token.encode() + b'", "batch": [' + b" " * (21 * MiB)
    status, payload = post_while_reading(capture_url, "/batch/", {}, spaces)
    assert status == 413 and "larger than this endpoint accepts (20971520 bytes)" in json.loads(payload)["detail"]
    unknown = b'{"api_key": "phc_unknown", "batch": [' + b'{"event": "e", "distinct_id": "d"},' * 1000
    chunked = b"%x\r\n%s\r\n" % (len(unknown), unknown)  # and the rest never comes
    assert status_after_partial_body(capture_url, "/batch/", {"Transfer-Encoding": "chunked"}, chunked) == 401

    two_mib = {"event": "$ai_generation", "distinct_id": "ai", "uuid": str(uuid.uuid4()),
               "properties": {"$ai_input": "x" * (2 * MiB)}}
    async with httpx.AsyncClient(base_url=capture_url, timeout=60) as http:
        assert (await http.post("/i/v0/ai/batch/", json={"api_key": token, "batch": [two_mib]})).status_code == 200
        small = [{"event": "small", "distinct_id": "v1-small", "uuid": str(uuid.uuid4()), "properties": {}}
                 for _ in range(3)]
        big = {**two_mib, "uuid": str(uuid.uuid4())}
        v1 = await http.post("/i/v1/analytics/events", headers={"Authorization": f"Bearer {token}"},
                             json={"created_at": "2026-12-06T00:00:00Z", "batch": [small[0], big, *small[1:]]})
    assert v1.status_code == 200
    assert v1.json()["results"] == {**{e["uuid"]: {"result": "ok"} for e in small}, big["uuid"]: {
        "result": "drop", "details": "An event is larger than 1048576 bytes."}}
    environment_id = (await client.get(f"/v1/{admin.org_id}/llm_analytics/environments/", headers=admin.headers)
                      ).json()["environments"][-1]["id"]
    stored = {e["uuid"] for e in await _events(client, admin, environment_id)}
    assert {e["uuid"] for e in small} | {two_mib["uuid"]} <= stored and big["uuid"] not in stored


async def test_values_the_database_refuses_are_clear_refusals_never_500(
        client: httpx.AsyncClient, admin: Caller, capture_url: str) -> None:
    environment = await _environment(client, admin)
    token = environment["api_token"]

    def event(**fields: Any) -> dict[str, Any]:
        return {"event": "e", "distinct_id": "d", "uuid": str(uuid.uuid4()), "properties": {}, **fields}

    huge_int, nul_key = event(properties={"n": 2 ** 70}), event(properties={"a\u0000b": 1})
    not_an_object = event(properties="text")
    surrogate = event(properties={"s": "\ud800"})
    far_future = event(timestamp="9999-12-31T23:59:59+00:00", distinct_id="far")
    huge_offset = event(offset=1e300, distinct_id="offset")
    async with httpx.AsyncClient(base_url=capture_url, timeout=60) as http:
        for refused, detail in ((huge_int, "larger than 8 bytes"), (nul_key, "NULL byte")):
            answer = await http.post("/batch/", json={"api_key": token, "batch": [refused]})
            assert answer.status_code == 400 and detail in answer.json()["detail"], answer.text
        v1 = await http.post("/i/v1/analytics/events", headers={"Authorization": f"Bearer {token}"},
                             content=json.dumps({"created_at": "2026-12-06T00:00:00Z", "batch": [
                                 huge_int, nul_key, not_an_object, surrogate, far_future, huge_offset]}))
        assert v1.status_code == 200, v1.text
        results = v1.json()["results"]
        assert [results[e["uuid"]]["result"] for e in (huge_int, nul_key, not_an_object)] == ["drop"] * 3
        assert [results[e["uuid"]]["result"] for e in (surrogate, far_future, huge_offset)] == ["ok"] * 3

        # one bulk write per request, unordered: a uuid stored before does not stop the events after it
        again = await http.post("/batch/", content=json.dumps({"api_key": token, "batch": [
            surrogate, event(distinct_id="new")]}))
        assert again.status_code == 200
    events = {e["uuid"]: e for e in await _events(client, admin, environment["id"])}
    assert _properties(events[surrogate["uuid"]]) == {"s": "\ufffd"}  # as PostHog's capture replaces them
    assert far_future["uuid"] in events and huge_offset["uuid"] in events
    assert "new" in {e["distinct_id"] for e in events.values()}
