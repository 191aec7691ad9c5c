"""An AI event's input or output as plain text (reference §8): what the LLM judge reads and what `test_hog`
previews. A string stays as it is; a list of messages becomes `role: text` lines; content blocks (Anthropic's
`{type: text, text}`, OpenAI responses' `{text}`, a generic `{content}`) are joined with spaces; an assistant's
tool calls read `[tool_call <id>: name(args)]` and a tool's result is labelled `tool[<id>]`."""

import json
from typing import Any

MESSAGE_KEYS = ("role", "content", "tool_calls")


def flatten(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        value = [value]
    if isinstance(value, list):
        lines = [_message(item) if _is_message(item) else _block(item) for item in value]
        return "\n".join(line for line in lines if line)
    return str(value)


def _is_message(item: Any) -> bool:
    return isinstance(item, dict) and any(key in item for key in MESSAGE_KEYS)


def _message(message: dict[str, Any]) -> str:
    role = str(message.get("role") or "")
    label = f"tool[{message['tool_call_id']}]" if role == "tool" and message.get("tool_call_id") else role
    parts = [_content(message.get("content")), *(_tool_call(c) for c in message.get("tool_calls") or [])]
    text = " ".join(p for p in parts if p)
    return f"{label}: {text}" if label else text


def _tool_call(call: Any) -> str:
    if not isinstance(call, dict):
        return str(call)
    function: dict[str, Any] = call["function"] if isinstance(call.get("function"), dict) else call
    arguments = function.get("arguments", "")
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments)
    return f"[tool_call {call.get('id', '')}: {function.get('name', '')}({arguments})]"


def _content(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(text for text in (_block(b) for b in content) if text)
    return _block(content)


def _block(block: Any) -> str:
    if isinstance(block, str):
        return block
    if isinstance(block, dict):
        if isinstance(block.get("text"), str):
            return str(block["text"])
        if "content" in block:
            return _content(block["content"])
        return json.dumps(block, default=str)
    return "" if block is None else str(block)
