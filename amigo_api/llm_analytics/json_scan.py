"""Reading JSON's structure without parsing it: regular expressions that the engine matches in C, possessively
(nothing is tried twice), for whole strings, the runs of bytes between them, and whole objects or arrays nested
to a bounded depth. `event_splitter.EventSplitter` is built on them, so that Python steps in only where the
structure changes depth across the edge of a piece of a body."""

import functools
import json
import re

SHORT_STRING = 128  # strings decoded to be compared (keys, uuids) are at most this long

STRING = rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"'
RUN = rb'[^"{}\[\]]++'  # numbers, literals, whitespace, commas and colons
SPACE = rb"[ \t\r\n]*+"
STRINGS = re.compile(STRING, re.S)
STRING_TAIL = re.compile(rb'[^"\\]*+(?:\\.[^"\\]*+)*+', re.S)  # up to a closing quote, or a lone final backslash
WHITESPACE = re.compile(SPACE)
QUOTE, BACKSLASH, OPEN_OBJECT, OPEN_ARRAY = ord('"'), ord("\\"), ord("{"), ord("[")
CLOSERS = (ord("}"), ord("]"))


def _group_source(budget: int) -> bytes:
    inner = RUN + b"|" + STRING + (b"|" + _group_source(budget - 1) if budget > 1 else b"")
    return rb"[{\[](?:" + inner + rb")*+[}\]]"


@functools.cache
def group(budget: int) -> re.Pattern[bytes]:
    """One whole object or array, nested at most `budget` levels deep (itself included)."""
    return re.compile(_group_source(budget), re.S)


@functools.cache
def items(budget: int, key: bytes | None = None) -> re.Pattern[bytes]:
    """Runs, whole strings and whole groups (at most `budget` deep) at one level; it matches the empty string.
    With `key`, it stops before that key, and before the key at the very end of the data, where what follows is
    not known yet."""
    string = STRING if key is None else rb'(?!"' + key + rb'"' + SPACE + rb"(?::|\Z))" + STRING
    alternatives = [RUN, string] + ([_group_source(budget)] if budget > 0 else [])
    return re.compile(rb"(?:" + b"|".join(alternatives) + rb")*+", re.S)


@functools.cache
def member(key: bytes) -> re.Pattern[bytes]:
    """`"key": ` and the string after it, if it is one (group 1)."""
    return re.compile(rb'"' + key + rb'"' + SPACE + b":" + SPACE + b"(" + STRING + b")?", re.S)


def span(pattern: re.Pattern[bytes], data: bytes, pos: int) -> int:
    """Where a pattern that matches the empty string stops."""
    found = pattern.match(data, pos)
    assert found is not None
    return found.end()


def short_string(raw: bytes) -> str | None:
    """A JSON string's value, if it is at most SHORT_STRING bytes long as written."""
    if len(raw) > SHORT_STRING:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def too_many_values(text: bytes | bytearray, limit: int) -> bool:
    """Whether a JSON text holds more than `limit` values: one, plus its commas and opening brackets outside
    strings (each value but the first of a container follows a comma). Counted with the strings left in first:
    when that is within the limit, so is the exact count."""
    if 1 + text.count(b",") + text.count(b"{") + text.count(b"[") <= limit:
        return False
    skeleton = STRINGS.sub(b"", text)
    return 1 + skeleton.count(b",") + skeleton.count(b"{") + skeleton.count(b"[") > limit


def member_string(obj: bytes, key: bytes, budget: int) -> str | None:
    """The short string a whole object (nested at most `budget` + 1 deep) gives `key` at its own level."""
    level, pos = items(budget, key), 1
    while (stop := span(level, obj, pos)) < len(obj) and obj[stop] == QUOTE:
        found = member(key).match(obj, stop)
        if found is None or found.group(1) is None:
            return None
        value = short_string(found.group(1))
        if value is not None:
            return value
        pos = found.end()
    return None
