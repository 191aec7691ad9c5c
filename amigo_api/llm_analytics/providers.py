"""The LLM judge's providers, over plain HTTP (`httpx`): the OpenAI-compatible chat completions API with a JSON
schema response format (OpenAI, and any server speaking it: vLLM, Ollama, a LiteLLM proxy, Gemini's and
OpenRouter's endpoints, ...), and Anthropic's messages API, whose structured output is a forced tool call.

Failures are classified for the run's error mapping (reference §5.3). A failure's message is the status and the
provider's own `error.message`, never the body a server answered; the key (and anything shaped like a secret) is
masked in it. Answers are read up to a bound. Calls go through `core.outbound`'s client: the address a tenant
gave is checked when the call connects."""

import json
import re
from dataclasses import dataclass
from typing import Any

import httpx

from amigo_api.core.outbound import OutboundRefused

TIMEOUT = httpx.Timeout(120.0, connect=10.0)
ANTHROPIC_VERSION = "2023-06-01"
TOOL_NAME = "submit_evaluation"
MAX_MESSAGE = 300  # characters of a provider's error message kept in a run's message
MAX_ERROR_BYTES = 64 * 1024
MAX_ANSWER_BYTES = 4 * 1024 * 1024
SECRET_LIKE = re.compile(r"\b(?:sk|pk|rk|key|phc|phx)[-_][A-Za-z0-9_-]{8,}|\b[A-Za-z0-9_-]{32,}")
# Error kinds: whether the run may try again.
RETRYABLE = {"server": True, "network": True, "auth": False, "permission": False, "quota": False,
             "rate_limit": False, "model_not_found": False, "bad_request": False, "parse_error": False,
             "address": False}


@dataclass(frozen=True)
class Completion:
    answer: dict[str, Any]  # the structured output
    input_tokens: int
    output_tokens: int


class ProviderError(Exception):
    def __init__(self, kind: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind, self.message, self.status = kind, message, status

    @property
    def retryable(self) -> bool:
        return RETRYABLE.get(self.kind, False)


def _provider_message(raw: bytes, api_key: str) -> str:
    """The provider's own `error.message` (OpenAI's and Anthropic's error bodies both carry one), truncated and
    with secrets masked; never the body itself, which a server at a tenant-chosen address controls."""
    try:
        error = json.loads(raw).get("error")
    except (ValueError, AttributeError):
        return ""
    message = error.get("message") if isinstance(error, dict) else error
    if not isinstance(message, str):
        return ""
    message = message.replace(api_key, "***") if api_key else message
    return SECRET_LIKE.sub("***", message)[:MAX_MESSAGE]


def _kind(status: int, body: str) -> str:
    lowered = body.lower()
    if status == 401:
        return "auth"
    if status == 403:
        return "permission"
    if status == 404 or "model_not_found" in lowered or "does not exist" in lowered:
        return "model_not_found"
    if status == 429:
        return "quota" if "quota" in lowered or "billing" in lowered or "credit" in lowered else "rate_limit"
    if status >= 500:
        return "server"
    return "bad_request"


async def _read(response: httpx.Response, limit: int) -> bytes:
    """At most `limit` bytes of an answer: whoever answers, it costs a bounded amount of memory."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            raise ProviderError("parse_error", f"The provider's answer is larger than {limit} bytes.")
    return bytes(body)


async def _post(client: httpx.AsyncClient, url: str, headers: dict[str, str], body: dict[str, Any],
                api_key: str) -> dict[str, Any]:
    try:
        async with client.stream("POST", url, headers=headers, json=body, timeout=TIMEOUT) as response:
            raw = await _read(response, MAX_ERROR_BYTES if response.status_code >= 400 else MAX_ANSWER_BYTES)
    except OutboundRefused as refused:
        raise ProviderError("address", f"The provider's address is refused: {refused}") from refused
    except httpx.HTTPError as error:
        raise ProviderError("network", f"The provider could not be reached: {type(error).__name__}") from error
    if response.status_code >= 400:
        said = _provider_message(raw, api_key)
        raise ProviderError(_kind(response.status_code, raw.decode(errors="replace")),
                            f"The provider answered {response.status_code}" + (f": {said}" if said else "."),
                            response.status_code)
    try:
        answer = json.loads(raw)
    except ValueError as error:
        raise ProviderError("parse_error", "The provider's answer is not JSON.") from error
    if not isinstance(answer, dict):
        raise ProviderError("parse_error", "The provider's answer is not a JSON object.")
    return answer


def _structured(text: Any) -> dict[str, Any]:
    try:
        answer = json.loads(text) if isinstance(text, str) else text
    except ValueError as error:
        raise ProviderError("parse_error", "The judge's answer is not the JSON asked for.") from error
    if not isinstance(answer, dict):
        raise ProviderError("parse_error", "The judge's answer is not a JSON object.")
    return answer


async def openai_compatible(client: httpx.AsyncClient, base_url: str, api_key: str, model: str, system: str,
                            user: str, schema: dict[str, Any]) -> Completion:
    body = {"model": model, "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "response_format": {"type": "json_schema",
                                "json_schema": {"name": "evaluation", "strict": True, "schema": schema}}}
    answer = await _post(client, f"{base_url.rstrip('/')}/chat/completions",
                         {"Authorization": f"Bearer {api_key}"}, body, api_key)
    try:
        message = answer["choices"][0]["message"]
    except (KeyError, IndexError, TypeError) as error:
        raise ProviderError("parse_error", "The provider's answer has no message.") from error
    usage = answer.get("usage") or {}
    return Completion(_structured(message.get("content")), int(usage.get("prompt_tokens") or 0),
                      int(usage.get("completion_tokens") or 0))


async def anthropic(client: httpx.AsyncClient, base_url: str, api_key: str, model: str, system: str, user: str,
                    schema: dict[str, Any]) -> Completion:
    body = {"model": model, "max_tokens": 1024, "system": system, "messages": [{"role": "user", "content": user}],
            "tools": [{"name": TOOL_NAME, "description": "Submit the evaluation.", "input_schema": schema}],
            "tool_choice": {"type": "tool", "name": TOOL_NAME}}
    answer = await _post(client, f"{base_url.rstrip('/')}/messages",
                         {"x-api-key": api_key, "anthropic-version": ANTHROPIC_VERSION}, body, api_key)
    call = next((block for block in answer.get("content") or []
                 if isinstance(block, dict) and block.get("type") == "tool_use"), None)
    if call is None:
        raise ProviderError("parse_error", "The judge did not submit an evaluation.")
    usage = answer.get("usage") or {}
    return Completion(_structured(call.get("input")), int(usage.get("input_tokens") or 0),
                      int(usage.get("output_tokens") or 0))


async def complete(client: httpx.AsyncClient, provider: str, base_url: str, api_key: str, model: str, system: str,
                   user: str, schema: dict[str, Any]) -> Completion:
    adapter = anthropic if provider == "anthropic" else openai_compatible
    return await adapter(client, base_url, api_key, model, system, user, schema)
