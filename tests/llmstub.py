"""A provider for the LLM judge on loopback: OpenAI's chat completions (`/v1/chat/completions`) and Anthropic's
messages (`/v1/messages`). What it answers is chosen by a marker in the judged text: `[stub:401]`, `[stub:403]`,
`[stub:429]` (rate limited), `[stub:quota]` (429, quota), `[stub:500-once]` (500, then fine), `[stub:500-leaky]`
(500 whose body holds secrets beside its message), `[stub:malformed]`
(not the JSON asked for), `[stub:na]` (not applicable), `[stub:false]`, `[stub:slow]` (answers after 6 s); fine
otherwise. Every request is kept, for the tests to read."""

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ERRORS = {"401": (401, "Incorrect API key provided: {key}"), "403": (403, "Permission denied"),
          "429": (429, "Rate limit reached for requests"), "quota": (429, "You exceeded your current quota")}


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class LlmStub:
    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    failed_once: set[str] = field(default_factory=set)

    def marker(self, body: dict[str, Any]) -> str:
        text = json.dumps(body)
        start = text.find("[stub:")
        return text[start + 6:text.find("]", start)] if start >= 0 else ""

    def answer(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        self.seen.append(Seen(path, headers, body))
        marker = self.marker(body)
        key = headers.get("authorization", headers.get("x-api-key", ""))
        if marker in ERRORS:
            status, message = ERRORS[marker]
            return status, {"error": {"message": message.format(key=key), "type": marker}}
        if marker == "500-once" and json.dumps(body) not in self.failed_once:
            self.failed_once.add(json.dumps(body))
            return 500, {"error": {"message": "The server had an error"}}
        if marker == "500-leaky":  # an error body carrying more than its message: none of it may reach a run
            return 500, {"error": {"message": f"Upstream failed for {key.removeprefix('Bearer ')}"},
                         "debug": {"upstream": "http://10.1.2.3:8000", "token": "INTERNAL-secret-token"}}
        if marker == "slow":
            time.sleep(6)
        na = "applicable" in json.dumps(body.get("response_format") or body.get("tools") or {})
        verdict: dict[str, Any] = {"reasoning": f"Judged ({marker or 'fine'}).", "verdict": marker != "false"}
        if na:
            verdict = {**verdict, "applicable": marker != "na",
                       "verdict": None if marker == "na" else verdict["verdict"]}
        content = "not json {" if marker == "malformed" else json.dumps(verdict)
        if path.endswith("/messages"):
            block = {"type": "text", "text": content} if marker == "malformed" else {
                "type": "tool_use", "id": "toolu_1", "name": "submit_evaluation", "input": verdict}
            return 200, {"id": "msg_1", "type": "message", "role": "assistant", "content": [block],
                         "usage": {"input_tokens": 11, "output_tokens": 7}}
        return 200, {"id": "chatcmpl-1", "object": "chat.completion", "model": body.get("model"),
                     "choices": [{"index": 0, "finish_reason": "stop",
                                  "message": {"role": "assistant", "content": content}}],
                     "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}}


@contextmanager
def llm_stub() -> Iterator[LlmStub]:
    stub = LlmStub()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            raw = self.rfile.read(int(self.headers.get("content-length", 0)))
            status, answer = stub.answer(self.path, {k.lower(): v for k, v in self.headers.items()}, json.loads(raw))
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stub.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield stub
    finally:
        server.shutdown()
