"""Capture bodies read with bounded memory, whatever they hold (docs/llm-analytics.md, "Limits").

The body streams in pieces through an incremental decompressor into `event_splitter.EventSplitter`, which cuts
it into the raw text of each event and of the envelope around them. Every limit is checked as bytes arrive: the
size as sent, the inflated size, the number of events, and per event its size, nesting depth and number of
values. Events stay raw JSON until the caller has checked the token; then they are parsed one at a time, each
bounded by its limits, so an unknown token costs no more than a known one and a small body cannot become large
Python objects."""

import zlib
from collections.abc import Iterator

from amigo_api.llm_analytics.capture_limits import CaptureLimits, TooLarge
from amigo_api.llm_analytics.errors import FieldError
from amigo_api.llm_analytics.event_splitter import EventSplitter
from amigo_api.llm_analytics.raw_events import CaptureBody

PIECE = 64 * 1024  # the most inflated bytes handed on at once


class _Inflater:
    """zlib's decompressor, asked for at most PIECE bytes at a time: a bomb is stopped by the caller's count
    before it has produced more than one piece beyond the limit."""

    def __init__(self, wbits: int) -> None:
        self._zlib = zlib.decompressobj(wbits)

    def feed(self, data: bytes) -> Iterator[bytes]:
        while True:
            try:
                out = self._zlib.decompress(data, PIECE)
            except zlib.error as exc:
                raise FieldError(f"The body could not be decompressed: {exc}.", None, "parse_error") from exc
            if out:
                yield out
            data = self._zlib.unconsumed_tail
            if self._zlib.unused_data:
                raise FieldError("The body has data after the end of its compressed stream.", None, "parse_error")
            if not data and len(out) < PIECE:
                return

    def finish(self) -> None:
        if not self._zlib.eof:
            raise FieldError("The compressed body ends early.", None, "parse_error")


class BodyDecoder:
    """The body's JSON text, decompressed per `Content-Encoding`, `?compression=gzip-js` or gzip's magic
    number; both the size as sent and the inflated size are counted as pieces arrive."""

    def __init__(self, content_encoding: str, compression: str | None, limits: CaptureLimits) -> None:
        self._encoding = (content_encoding or "").strip().lower()
        self._compression = compression
        self._limits = limits
        self._received = 0
        self._produced = 0
        self._head = b""  # the first byte, until a second one tells gzip's magic number apart
        self._inflater: _Inflater | None = None
        self._decided = False

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        self._received += len(chunk)
        if self._received > self._limits.body_bytes:
            raise TooLarge(f"The request body is larger than this endpoint accepts ({self._limits.body_bytes} bytes).")
        if not self._decided:
            chunk, self._head = self._head + chunk, b""
            if len(chunk) < 2:
                self._head = chunk
                return
            self._decide(chunk)
        pieces = self._inflater.feed(chunk) if self._inflater is not None else (chunk,)
        for piece in pieces:
            yield self._counted(piece)

    def finish(self) -> Iterator[bytes]:
        if not self._decided and self._head:
            yield self._counted(self._head)
        if self._inflater is not None:
            self._inflater.finish()

    def _decide(self, head: bytes) -> None:
        self._decided = True
        if self._encoding == "gzip" or self._compression == "gzip-js" or head.startswith(b"\x1f\x8b"):
            self._inflater = _Inflater(16 + zlib.MAX_WBITS)
        elif self._encoding == "deflate":
            self._inflater = _Inflater(zlib.MAX_WBITS)

    def _counted(self, piece: bytes) -> bytes:
        self._produced += len(piece)
        if self._produced > self._limits.inflated_bytes:
            raise TooLarge(f"The decompressed body is larger than {self._limits.inflated_bytes} bytes.")
        return piece


class BodyReader:
    """A capture body fed as it streams: decompressed, split and bounded (see the module's docstring)."""

    def __init__(self, limits: CaptureLimits, content_encoding: str, compression: str | None,
                 declared_length: str | None, drop_oversized: bool = False) -> None:
        if declared_length is not None and (not declared_length.isdigit() or int(declared_length) > limits.body_bytes):
            raise TooLarge(f"The request body is larger than this endpoint accepts ({limits.body_bytes} bytes).")
        self._decoder = BodyDecoder(content_encoding, compression, limits)
        self._splitter = EventSplitter(limits, drop_oversized)

    def feed(self, chunk: bytes) -> Iterator[str]:
        """Read the next chunk of the body; it pauses to hand out the project token as soon as it is known, so
        that an unknown token is refused before the rest of the body is read."""
        for piece in self._decoder.feed(chunk):
            yield from self._split(piece)

    def close(self) -> CaptureBody:
        for piece in self._decoder.finish():
            for _ in self._split(piece):
                pass  # the body is read whole: its token is the one `CaptureBody.token` gives
        return self._splitter.close()

    def _split(self, piece: bytes) -> Iterator[str]:
        self._splitter.feed(piece)
        while self._splitter.token_ready:
            token = self._splitter.early_token()
            if token is not None:
                yield token
            self._splitter.feed(b"")
