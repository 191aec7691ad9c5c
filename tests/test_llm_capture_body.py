"""Capture bodies are read with bounded memory, whatever they hold: in process, `tracemalloc` shows what reading
each bomb allocates at its peak; limits refuse a body where it crosses them, not after reading the rest; the
token comes before the events; and the splitter agrees with `json.loads` on every body, cut anywhere."""

import json
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Iterable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amigo_api.core.errors import AmigoError
from amigo_api.llm_analytics import capture
from amigo_api.llm_analytics.capture import IncomingBody, InvalidToken
from amigo_api.llm_analytics.capture_body import BodyReader
from amigo_api.llm_analytics.capture_limits import AI_LIMITS, BATCH_LIMITS, CaptureLimits, MiB
from amigo_api.llm_analytics.raw_events import CaptureBody, Oversized, parse_event

PIECE = 64 * 1024
EMPTY = b"{},"


def gzipped(*parts: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    return b"".join([*(packer.compress(p) for p in parts), packer.flush()])


def pieces(body: bytes, size: int = PIECE) -> list[bytes]:
    return [body[i:i + size] for i in range(0, len(body), size)]


def read(body: bytes, limits: CaptureLimits = BATCH_LIMITS, encoding: str = "", drop: bool = False,
         size: int = PIECE) -> tuple[list[str], CaptureBody]:
    """The tokens handed out while reading, and the split body."""
    reader = BodyReader(limits, encoding, None, None, drop)
    tokens = [token for chunk in pieces(body, size) for token in reader.feed(chunk)]
    return tokens, reader.close()


def peak_while(body: bytes, limits: CaptureLimits = BATCH_LIMITS, encoding: str = "") -> tuple[AmigoError, int]:
    chunks = pieces(body)
    tracemalloc.start()
    try:
        reader = BodyReader(limits, encoding, None, None)
        for chunk in chunks:
            list(reader.feed(chunk))
        reader.close()
    except AmigoError as exc:
        return exc, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    raise AssertionError("the bomb was read whole")


TOKEN = b'"api_key": "phc_known", '
BOMBS = {
    "two million empty events (gzip)": (gzipped(b"{" + TOKEN + b'"batch": [', EMPTY * 2_000_000, b"{}]}"), "gzip",
                                        413, "at most 10000 events"),
    "an event of five million numbers (gzip)": (gzipped(b'{"batch": [{"properties": {"n": [', b"0," * 5_000_000,
                                                        b"0]}}]}"), "gzip", 413, "larger than 1048576 bytes"),
    "3 MB of plain empty events": (b"[" + EMPTY * 1_000_000 + b"{}]", "", 413, "at most 10000 events"),
    "a body that inflates past its limit (gzip)": (gzipped(b"[", b" " * BATCH_LIMITS.inflated_bytes, b"]"), "gzip",
                                                   413, "decompressed body is larger"),
    "an event ten million levels deep (gzip)": (gzipped(b'[{"a": ', b"[" * 10_000_000), "gzip", 400,
                                                "nested deeper than 64"),
    "an event of a million empty arrays": (b'[{"a": [' + b"[]," * 300_000 + b"[]]}]", "", 413,
                                           "more than 100000 JSON values"),
}


@pytest.mark.parametrize("name", BOMBS)
def test_bombs_are_refused_within_a_small_allocation(name: str) -> None:
    body, encoding, status, detail = BOMBS[name]
    error, peak = peak_while(body, encoding=encoding)
    assert error.status_code == status and detail in error.detail, error.detail
    assert peak < 4 * MiB, f"{name}: {peak / MiB:.1f} MiB at the peak"


def test_limits_refuse_where_they_are_crossed_not_after_the_rest() -> None:
    reader = BodyReader(BATCH_LIMITS, "", None, None)
    list(reader.feed(b'{"batch": [' + b'{"event": "e", "distinct_id": "d"},' * 10_000))
    with pytest.raises(AmigoError, match="at most 10000 events"):
        list(reader.feed(b"{"))  # the opening brace of the 10,001st event
    reader = BodyReader(BATCH_LIMITS, "", None, None)
    list(reader.feed(b'[{"event": "big", "properties": {"s": "' + b"x" * (MiB - 64)))
    with pytest.raises(AmigoError, match="larger than 1048576 bytes"):
        list(reader.feed(b"x" * 128))  # the event is not over yet
    with pytest.raises(AmigoError, match="larger than this endpoint accepts"):
        BodyReader(BATCH_LIMITS, "", None, str(BATCH_LIMITS.body_bytes + 1))  # the declared length, before a byte


def test_each_event_is_bounded_in_values_and_nesting() -> None:
    many = b'[{"a": [' + b"0," * 99_997 + b"0]}]"  # 99,998 numbers, the array and the event: 100,000 values
    assert len(read(many)[1].events) == 1
    with pytest.raises(AmigoError, match="more than 100000 JSON values"):
        read(many.replace(b"[0,", b"[0,0,", 1))
    commas_in_strings = b'[{"a": "' + b"," * 200_000 + b'"}]'
    assert len(read(commas_in_strings)[1].events) == 1
    deepest = b'[{"a": ' + b"[" * 63 + b"]" * 63 + b"}]"
    assert read(deepest, size=7)[1].events == [deepest[1:-1]]
    with pytest.raises(AmigoError, match="nested deeper than 64 levels"):
        read(deepest.replace(b"[[", b"[[[", 1).replace(b"]]", b"]]]", 1), size=7)


def test_the_token_is_handed_out_before_the_events_are_read() -> None:
    # 20,000 events follow: reading them would refuse the body, so the token comes before any of them
    envelope_first = b'{"api_key": "phc_first", "batch": [' + EMPTY * 20_000 + b"{}]}"
    reader = BodyReader(BATCH_LIMITS, "", None, None)
    assert next(reader.feed(envelope_first)) == "phc_first"
    array_body = b'[{"event": "e", "properties": {"token": "phc_js"}},' + EMPTY * 20_000 + b"{}]"
    reader = BodyReader(BATCH_LIMITS, "", None, None)
    assert next(reader.feed(array_body)) == "phc_js"
    tokens, body = read(b'{"batch": [{"event": "e", "distinct_id": "d"}], "api_key": "phc_last"}', size=5)
    assert tokens == [] and body.token() == "phc_last"  # posthog-python's order: known once the body is read


async def _counted(body: bytes, sent: list[int]) -> AsyncIterator[bytes]:
    for chunk in pieces(body, 16 * 1024):
        sent.append(len(chunk))
        yield chunk


async def test_an_unknown_token_is_refused_before_the_rest_of_the_body(app: Any) -> None:
    clusters = app.state.clusters
    body = b'{"api_key": "phc_unknown", "batch": [' + b'{"event": "e", "distinct_id": "d"},' * 9_000 + b"{}]}"
    sent: list[int] = []
    with pytest.raises(InvalidToken):
        await capture.capture_v0(clusters, IncomingBody(_counted(body, sent), "", None, None), BATCH_LIMITS)
    assert sum(sent) == 16 * 1024 < len(body)
    sent.clear()
    # the token last: the events are kept as text, not parsed, so broken events still get the 401
    broken = b'{"batch": [{"event": tru}, {"event": "e" "x": 1}], "api_key": "phc_unknown"}'
    with pytest.raises(InvalidToken):
        await capture.capture_v0(clusters, IncomingBody(_counted(broken, sent), "", None, None), BATCH_LIMITS)


def test_v1_drops_an_oversized_event_by_its_uuid_and_keeps_the_others() -> None:
    big = {"event": "big", "properties": {"s": "x" * (2 * MiB)}, "uuid": "00000000-0000-4000-8000-00000000000b"}
    nested = {"event": "values", "uuid": "00000000-0000-4000-8000-00000000000c", "properties": {"n": [0] * 200_000}}
    small = {"event": "small", "distinct_id": "d"}
    raw = json.dumps({"created_at": "2026-12-06T00:00:00Z", "batch": [small, big, nested, small]}).encode()
    for size in (4096, len(raw)):
        events = read(raw, drop=True, size=size)[1].events
        assert [parse_event(e) for e in events if isinstance(e, bytes)] == [small, small]
        assert [e.uuid for e in events if isinstance(e, Oversized)] == [big["uuid"], nested["uuid"]]
    with pytest.raises(AmigoError, match="larger than 1048576 bytes"):
        read(raw)  # v0 answers for the request as a whole


def test_the_ai_lane_takes_larger_events() -> None:
    event = json.dumps([{"event": "$ai_generation", "properties": {"$ai_input": "x" * (3 * MiB)}}]).encode()
    assert len(read(event, AI_LIMITS)[1].events) == 1
    with pytest.raises(AmigoError, match="larger than 1048576 bytes"):
        read(event, BATCH_LIMITS)


# The splitter agrees with json.loads -------------------------------------------------------------------------

TEXT = st.text(st.sampled_from(['"', "\\", "{", "}", "[", "]", ",", ":", "a", " ", "é", "\n", "\u2028", "😀"]),
               max_size=12)
VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
                      lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
                      max_leaves=20)
EVENTS = st.dictionaries(TEXT | st.sampled_from(["uuid", "batch", "api_key"]), VALUES, max_size=5)
BODIES = (st.builds(lambda events, extra: {**extra, "batch": events}, st.lists(EVENTS, min_size=1, max_size=5),
                    st.dictionaries(TEXT, VALUES, max_size=3))
          | st.lists(EVENTS, min_size=1, max_size=5)
          | EVENTS.filter(lambda event: "batch" not in event))
LOOSE = CaptureLimits(body_bytes=MiB, inflated_bytes=MiB, event_bytes=MiB)


def _split_all(raw: bytes, cuts: Iterable[int]) -> tuple[dict[str, Any], list[Any]]:
    reader = BodyReader(LOOSE, "", None, None)
    start = 0
    for cut in sorted(set(cuts)) + [len(raw)]:
        list(reader.feed(raw[start:cut]))
        start = cut
    body = reader.close()
    return body.envelope, [parse_event(e) for e in body.events if isinstance(e, bytes)]


@settings(max_examples=300, deadline=None)
@given(BODIES, st.booleans(), st.lists(st.integers(min_value=0, max_value=4096), max_size=8))
def test_the_splitter_agrees_with_json_loads(value: Any, indent: bool, cuts: list[int]) -> None:
    raw = json.dumps(value, indent=1 if indent else None, ensure_ascii=False).encode()
    envelope, events = _split_all(raw, (c % (len(raw) + 1) for c in cuts))
    if isinstance(value, list):
        assert events == value
    elif "batch" in value:
        assert events == value["batch"] and envelope == {**value, "batch": []}
    else:
        assert events == [value] and envelope == value


@settings(max_examples=300, deadline=None)
@given(BODIES, st.integers(min_value=0), st.integers(min_value=1, max_value=3),
       st.lists(st.integers(min_value=0, max_value=4096), max_size=4))
def test_the_splitter_accepts_nothing_json_refuses(value: Any, at: int, removed: int, cuts: list[int]) -> None:
    raw = json.dumps(value).encode()
    at %= len(raw)
    damaged = raw[:at] + raw[at + removed:]
    try:
        json.loads(damaged)
    except ValueError:
        with pytest.raises((AmigoError, ValueError)):
            _split_all(damaged, (c % (len(damaged) + 1) for c in cuts))
