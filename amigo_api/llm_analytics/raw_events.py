"""A capture body once split: its envelope, and its events kept as raw JSON text (or the reason each was refused)
until the token is known; then each is parsed on its own."""

import json
from dataclasses import dataclass
from typing import Any

from amigo_api.llm_analytics.errors import FieldError


@dataclass(frozen=True)
class Oversized:
    """An event refused while it streamed (capture v1 drops it and keeps the others): only its uuid was kept."""

    uuid: str | None
    reason: str


RawEvent = bytes | Oversized


@dataclass(frozen=True)
class CaptureBody:
    envelope: dict[str, Any]  # the body around its events; for a body that is one event, that event
    events: list[RawEvent]

    def token(self) -> str:
        """The envelope's token; else the first event's, which is parsed only then."""
        given = token_in(self.envelope)
        if given is not None:
            return given
        first = self.events[0]
        return token_of(None, parse_event(first) if isinstance(first, bytes) else None)


def parse_event(raw: bytes) -> Any:
    """One event's text; its size, depth and values were bounded while it streamed."""
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise parse_error(str(exc)) from exc


def token_in(holder: Any) -> str | None:
    if isinstance(holder, dict):
        for name in ("api_key", "token"):
            if isinstance(holder.get(name), str) and holder[name]:
                return str(holder[name])
    return None


def token_of(envelope: dict[str, Any] | None, first_event: Any) -> str:
    """`api_key` or `token` in the envelope, else in the first event or its properties."""
    properties = first_event.get("properties") if isinstance(first_event, dict) else None
    for holder in (envelope, first_event, properties):
        token = token_in(holder)
        if token is not None:
            return token
    return ""


def parse_error(detail: str) -> FieldError:
    return FieldError(f"The body is not valid JSON: {detail}.", None, "parse_error")
