"""The LLM judge's providers, over plain HTTP (`httpx`): the OpenAI-compatible chat completions API with a JSON
schema response format (OpenAI, and any server speaking it: vLLM, Ollama, a LiteLLM proxy, Gemini's and
OpenRouter's endpoints, ...), and Anthropic's messages API, whose structured output is a forced tool call.

Failures are classified for the run's error mapping (reference §5.3). The provider key is never part of a
message: whatever a provider echoes of it is masked."""

import json
from dataclasses import dataclass
from typing import Any

import httpx

TIMEOUT = httpx.Timeout(120.0, connect=10.0)
ANTHROPIC_VERSION = "2023-06-01"
TOOL_NAME = "submit_evaluation"
MAX_MESSAGE = 500
# Error kinds: whether the run may try again.
RETRYABLE = {"server": True, "network": True, "auth": False, "permission": False, "quota": False,
             "rate_limit": False, "model_not_found": False, "bad_request": False, "parse_error": False}


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


def _masked(text: str, api_key: str) -> str:
    text = text[:MAX_MESSAGE]
    return text.replace(api_key, "***") if api_key else text


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


async def _post(client: httpx.AsyncClient, url: str, headers: dict[str, str], body: dict[str, Any],
                api_key: str) -> dict[str, Any]:
    try:
        response = await client.post(url, headers=headers, json=body, timeout=TIMEOUT)
    except httpx.HTTPError as error:
        raise ProviderError("network", f"The provider could not be reached: {type(error).__name__}") from error
    if response.status_code >= 400:
        raise ProviderError(_kind(response.status_code, response.text),
                            f"The provider answered {response.status_code}: {_masked(response.text, api_key)}",
                            response.status_code)
    try:
        answer = response.json()
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
