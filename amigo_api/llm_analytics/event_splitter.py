"""Cutting a capture body into events while it streams, without parsing it (docs/llm-analytics.md, "Limits").

The body is a batch object (`{..., "batch": [events]}`), an array of events, or one event. `EventSplitter` keeps
the raw text of each event and of the envelope around them, and checks each event's size, nesting and number of
values as its bytes arrive, so that nothing is parsed before the token is known and no parse can grow large."""

import json
import re
from enum import Enum, auto

from amigo_api.core.errors import AmigoError
from amigo_api.llm_analytics import json_scan as scan
from amigo_api.llm_analytics.capture_limits import CaptureLimits, TooLarge
from amigo_api.llm_analytics.errors import FieldError
from amigo_api.llm_analytics.raw_events import (
    CaptureBody,
    Oversized,
    RawEvent,
    parse_error,
    parse_event,
    token_in,
    token_of,
)

SEPARATORS = re.compile(rb"[ \t\r\n,]*+")
BATCH_KEY = re.compile(rb'"batch"' + scan.SPACE + b":" + scan.SPACE)
CARRY_MAX = 256  # a key cut by the edge of a piece waits for the next piece if what is left is this short
# A group that a piece ends inside is scanned to the piece's end, then stepped into; a body whose nesting makes
# that rescanning exceed this many times its inflated limit is refused (honest bodies rescan a small fraction).
RESCAN_FACTOR = 4


def _not_an_event() -> FieldError:
    return FieldError("An event must be an object.", "batch", "invalid")


class _Region(Enum):
    ENVELOPE = auto()  # kept: everything outside the events
    EVENT = auto()  # kept: the event being read
    SEPARATOR = auto()  # checked and dropped: whitespace and commas between the events of a batch


class _Unit:
    """The text of one event (or of the envelope), or why it was refused."""

    def __init__(self) -> None:
        self.text: bytearray | None = bytearray()
        self.refusal: str | None = None
        self.uuid: str | None = None


class EventSplitter:
    """Feed it the body's JSON text piece by piece. With `drop_oversized`, an event over a limit is dropped and
    reading goes on (capture v1); otherwise the request is refused at once.

    State between pieces: the depth, whether a string is open (and a final backslash), the region the bytes
    belong to, and at most CARRY_MAX bytes of a key cut by the edge of a piece. Whole strings and groups are
    consumed by the scanner's patterns; a step of Python is taken per event, per depth change across a piece's
    edge, and per key followed (the envelope's `batch`; an event's `uuid` when it may be dropped)."""

    def __init__(self, limits: CaptureLimits, drop_oversized: bool = False) -> None:
        self._limits = limits
        self._drop_oversized = drop_oversized
        self._depth = 0
        self._in_string = False
        self._escaped = False
        self._carry = b""
        self._top: int | None = None  # the body's first bracket
        self._batch_depth: int | None = None  # inside the events' array: its depth (events open at this depth)
        self._batches = 0
        self._events: list[RawEvent] = []
        self._separators = 0  # commas since the last event of the batch
        self._envelope = _Unit()
        self._event: _Unit | None = None
        self._region = _Region.ENVELOPE
        self._mark = 0  # where the current region's unkept bytes begin in the current piece
        self._token_ready = False
        self._rescans = 0

    def feed(self, piece: bytes) -> None:
        data, self._carry = self._carry + piece if self._carry else piece, b""
        pos, end = 0, len(data)
        self._mark = 0
        if self._escaped and end:
            self._escaped, pos = False, 1  # the byte a backslash at the end of the previous piece escapes
        while pos < end:
            if self._token_ready:  # the caller checks the token before the rest is read (`early_token`)
                self._carry_from(data, pos)
                return
            if self._in_string:
                pos = self._string_tail(data, pos)
            elif self._top is None:
                pos = self._start(data, pos)
            elif self._depth == 0:
                pos = end  # after the body's value: the envelope's parse judges it
            elif self._region is _Region.SEPARATOR:
                pos = self._between_events(data, pos)
            else:
                pos = self._inside(data, pos)
        self._keep(data, end)

    @property
    def token_ready(self) -> bool:
        """Reading has paused where the token became known: at the start of the batch of an object body (the
        envelope may have given it), or after the first event of an array body. `feed(b"")` goes on."""
        return self._token_ready

    def early_token(self) -> str | None:
        """The token known where reading paused, if the body gave one there."""
        if not self._token_ready:
            return None
        self._token_ready = False
        if self._top == scan.OPEN_ARRAY:
            first = self._events[0]
            return token_of(None, parse_event(first)) if isinstance(first, bytes) else None
        assert self._envelope.text is not None
        try:
            head = json.loads(self._envelope.text + b"]}")
        except ValueError:
            return None
        return token_in(head)

    def close(self) -> CaptureBody:
        if self._top is None:
            raise FieldError("The body must be a JSON object or an array of events.", None, "parse_error")
        if self._in_string or self._depth or self._carry:
            raise parse_error("it ends before its last value does")
        text = bytes(self._envelope.text or b"")
        if scan.too_many_values(text, self._limits.event_values):
            raise TooLarge(f"An event holds more than {self._limits.event_values} JSON values.")
        try:
            envelope = json.loads(text)
        except ValueError as exc:
            raise parse_error(str(exc)) from exc
        events = self._events
        if isinstance(envelope, dict) and "batch" not in envelope:
            events = [text]  # the body is one event
        elif isinstance(envelope, dict) and not (self._batches and isinstance(envelope["batch"], list)):
            raise FieldError("`batch` must be an array of events.", "batch", "invalid")
        if not events:
            raise FieldError("No events in the body.", "batch", "invalid")
        return CaptureBody(envelope if isinstance(envelope, dict) else {}, events)

    # steps: each takes the data and a position, and returns where the next step begins

    def _start(self, data: bytes, pos: int) -> int:
        stop = scan.span(scan.WHITESPACE, data, pos)
        if stop == len(data):
            return stop
        self._top = data[stop]
        if self._top not in (scan.OPEN_OBJECT, scan.OPEN_ARRAY):
            raise FieldError("The body must be a JSON object or an array of events.", None, "parse_error")
        self._descend()
        if self._top == scan.OPEN_ARRAY:
            self._begin_batch(data, stop + 1)
        return stop + 1

    def _string_tail(self, data: bytes, pos: int) -> int:
        stop = scan.span(scan.STRING_TAIL, data, pos)
        if stop < len(data) and data[stop] == scan.BACKSLASH:  # the piece ends inside an escape
            self._escaped = True
            return len(data)
        self._in_string = stop == len(data)
        return stop if self._in_string else stop + 1

    def _inside(self, data: bytes, pos: int) -> int:
        """Inside the envelope or an event: whole items at once, then the byte that stopped them."""
        key = self._followed_key()
        stop = scan.span(scan.items(self._limits.depth - self._nesting(), key), data, pos)
        if stop == len(data):
            return stop
        byte = data[stop]
        if byte in scan.CLOSERS:
            self._ascend(data, stop)
            return stop + 1
        if byte != scan.QUOTE:  # a group that goes on in the next piece (or nests too deep): step into it
            self._rescanned(len(data) - stop)
            self._descend()
            return stop + 1
        if key is not None and data.startswith(b'"' + key + b'"', stop):
            return self._member(data, stop, key)
        if key is not None and len(data) - stop <= CARRY_MAX:
            return self._carry_from(data, stop)  # perhaps the key, cut by the edge of the piece
        self._in_string = True  # a string the piece ends inside
        return stop + 1

    def _member(self, data: bytes, at: int, key: bytes) -> int:
        """The followed key: `batch` opens the events' array; an event's `uuid` is noted for a drop."""
        found = (BATCH_KEY if key == b"batch" else scan.member(key)).match(data, at)
        if found is None or found.end() == len(data) or (
                key == b"uuid" and found.group(1) is None and data[found.end()] == scan.QUOTE):
            if len(data) - at <= CARRY_MAX:
                return self._carry_from(data, at)  # the rest of the member is in the next piece
            self._in_string = True  # not a member to follow: the key is an ordinary string
            return at + 1
        if key == b"uuid":
            assert self._event is not None
            self._event.uuid = scan.short_string(found.group(1)) if found.group(1) is not None else None
            return found.end()
        if data[found.end()] != scan.OPEN_ARRAY:
            raise FieldError("`batch` must be an array of events.", "batch", "invalid")
        self._descend()
        self._begin_batch(data, found.end() + 1)
        return found.end() + 1

    def _between_events(self, data: bytes, pos: int) -> int:
        stop = scan.span(SEPARATORS, data, pos)
        self._separators += data.count(b",", pos, stop)
        if self._separators > 1:
            raise parse_error("two commas between events")
        if stop == len(data):
            return stop
        byte = data[stop]
        if byte == ord("]"):
            if self._separators:
                raise parse_error("a comma after the last event")
            self._switch(data, stop, _Region.ENVELOPE)
            self._batch_depth = None
            self._depth -= 1
            return stop + 1
        if byte != scan.OPEN_OBJECT:
            raise _not_an_event()
        self._begin_event(data, stop)
        whole = scan.group(self._limits.depth).match(data, stop)
        if whole is None:  # it goes on in the next piece (or nests too deep): step into it
            self._rescanned(len(data) - stop)
            self._descend()
            return stop + 1
        self._end_event(data, whole.end(), start=stop)
        return whole.end()

    # structure

    def _descend(self) -> None:
        self._depth += 1
        if self._nesting() > self._limits.depth:  # the whole request: reading past it would cost a step a level
            raise FieldError(f"An event is nested deeper than {self._limits.depth} levels.", "batch", "invalid")

    def _ascend(self, data: bytes, at: int) -> None:
        self._depth -= 1
        if self._event is not None and self._depth == self._batch_depth:
            self._end_event(data, at + 1)

    def _begin_batch(self, data: bytes, at: int) -> None:
        if self._batches:
            raise FieldError("The body holds `batch` twice.", "batch", "invalid")
        self._batches += 1
        self._batch_depth = self._depth
        self._switch(data, at, _Region.SEPARATOR)
        self._token_ready = self._top == scan.OPEN_OBJECT

    def _begin_event(self, data: bytes, at: int) -> None:
        if self._separators != (1 if self._events else 0):
            raise parse_error("events must be separated by one comma")
        if len(self._events) == self._limits.events:
            raise TooLarge(f"A request holds at most {self._limits.events} events.")
        self._switch(data, at, _Region.EVENT)
        self._event = _Unit()

    def _end_event(self, data: bytes, end: int, start: int | None = None) -> None:
        """`start`: where the event began, when it came whole in this piece."""
        self._switch(data, end, _Region.SEPARATOR)
        event, self._event = self._event, None
        assert event is not None
        text = event.text
        if text is not None and scan.too_many_values(text, self._limits.event_values):
            self._refuse(event, TooLarge(f"An event holds more than {self._limits.event_values} JSON values."))
        if text is not None and event.refusal is None:
            self._events.append(bytes(text))
        else:
            found = bytes(text) if text is not None else data[start:end] if start is not None else None
            uuid = event.uuid if found is None else scan.member_string(found, b"uuid", self._limits.depth - 1)
            self._events.append(Oversized(uuid, event.refusal or ""))
        self._separators = 0
        if self._top == scan.OPEN_ARRAY and len(self._events) == 1:
            self._token_ready = True

    # bookkeeping

    def _nesting(self) -> int:
        """How deep the scan is inside the current event (or inside the envelope)."""
        return self._depth - (self._batch_depth or 0) if self._event is not None else self._depth

    def _followed_key(self) -> bytes | None:
        if self._event is None:
            return b"batch" if self._depth == 1 and self._top == scan.OPEN_OBJECT else None
        return b"uuid" if self._drop_oversized and self._nesting() == 1 else None

    def _unit(self) -> _Unit:
        return self._event if self._event is not None else self._envelope

    def _switch(self, data: bytes, at: int, region: _Region) -> None:
        self._keep(data, at)
        self._region = region

    def _carry_from(self, data: bytes, at: int) -> int:
        self._keep(data, at)
        self._carry, self._mark = data[at:], len(data)
        return len(data)

    def _keep(self, data: bytes, upto: int) -> None:
        """Add the current region's bytes up to `upto` to the text they belong to."""
        if upto > self._mark and self._region is not _Region.SEPARATOR:
            unit = self._unit()
            if unit.text is not None:
                unit.text += memoryview(data)[self._mark:upto]
                if len(unit.text) > self._limits.event_bytes:
                    self._refuse(unit, TooLarge(f"An event is larger than {self._limits.event_bytes} bytes."))
        self._mark = max(self._mark, upto)

    def _rescanned(self, size: int) -> None:
        self._rescans += size
        if self._rescans > RESCAN_FACTOR * self._limits.inflated_bytes:
            raise TooLarge("The body nests too many groups across the edges of its pieces to be read; send it "
                           "with fewer nesting levels.")

    def _refuse(self, unit: _Unit, error: AmigoError) -> None:
        if unit is self._envelope or not self._drop_oversized:
            raise error
        if unit.refusal is None:
            unit.refusal, unit.text = error.detail, None
