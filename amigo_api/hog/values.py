"""Hog's values and their rules (reference §7.3, §7.4): truthiness, `typeof` names, PostHog's mixed-type
comparisons, text for `toString` and `||`, and `print`'s formatting."""

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class HogRuntimeError(Exception):
    """An error of the program (a bad operation, a missing function); ends the run unless caught."""


@dataclass
class HogThrow(Exception):
    """`throw value`: catchable by `try/catch`."""

    value: Any


@dataclass
class Closure:
    """A Hog function value: its parameters, its body and the scope it was made in."""

    name: str
    params: list[str]
    run: Any  # Callable[[list[Any]], Any], bound to its scope
    captured: Any = field(default=None, repr=False)


def is_datetime(value: Any) -> bool:
    return isinstance(value, dict) and value.get("__hogDateTime__") is True


def is_date(value: Any) -> bool:
    return isinstance(value, dict) and value.get("__hogDate__") is True


def is_error(value: Any) -> bool:
    return isinstance(value, dict) and value.get("__hogError__") is True


def truthy(value: Any) -> bool:
    return bool(value) if not isinstance(value, Closure) else True


def typeof(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, tuple):
        return "tuple"
    if isinstance(value, Closure):
        return "function"
    if isinstance(value, dict):
        return ("datetime" if is_datetime(value) else "date" if is_date(value) else "error" if is_error(value)
                else "object")
    return "unknown"


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def unify(left: Any, right: Any) -> tuple[Any, Any]:
    """PostHog's rules: a number and a numeric string compare as numbers; a bool and `'true'`/`'false'` as
    booleans; a bool and a number as 0/1."""
    if isinstance(left, bool) and isinstance(right, str) and right.lower() in ("true", "false"):
        return left, right.lower() == "true"
    if isinstance(right, bool) and isinstance(left, str) and left.lower() in ("true", "false"):
        return left.lower() == "true", right
    numeric = (int, float)
    if isinstance(left, numeric) and isinstance(right, str) and (parsed := _number(right)) is not None:
        return left, parsed
    if isinstance(right, numeric) and isinstance(left, str) and (parsed := _number(left)) is not None:
        return parsed, right
    return left, right


def equals(left: Any, right: Any) -> bool:
    left, right = unify(left, right)
    return bool(left == right)


def compare(op: str, left: Any, right: Any) -> bool:
    """`<`, `<=`, `>`, `>=`; null or incomparable values are false, never an error."""
    if left is None or right is None:
        return False
    left, right = unify(left, right)
    try:
        return bool({"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op])
    except TypeError:
        return False


def to_string(value: Any) -> str:
    """`toString` and `||`: null is empty, booleans are words, containers as `print` shows them nested."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if is_datetime(value):
        moment = datetime.fromtimestamp(value["dt"], _zone(value.get("zone")))
        text = moment.isoformat("T", "milliseconds")
        return text.replace("+00:00", "") + "Z" if value.get("zone") in (None, "UTC") else text
    if is_date(value):
        return f"{value['year']:04d}-{value['month']:02d}-{value['day']:02d}"
    return printed(value, nested=False)


def _zone(name: Any) -> tzinfo:
    try:
        return UTC if name in (None, "UTC") else ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _float(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return repr(value)


def printed(value: Any, nested: bool = True) -> str:
    """`print`'s text: strings raw at the top level and quoted inside containers."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'" if nested else value
    if isinstance(value, list):
        return "[" + ", ".join(printed(v) for v in value) + "]"
    if isinstance(value, tuple):
        inside = ", ".join(printed(v) for v in value)
        return f"tuple({inside})" if len(value) < 2 else f"({inside})"
    if is_datetime(value):
        return f"DateTime({float(value['dt'])}, {printed(value.get('zone') or 'UTC')})"
    if is_date(value):
        return f"Date({value['year']}, {value['month']}, {value['day']})"
    if is_error(value):
        payload = f", {printed(value['payload'])}" if value.get("payload") is not None else ""
        return f"{value.get('type')}({printed(value.get('message'))}{payload})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{printed(k)}: {printed(v)}" for k, v in value.items()) + "}"
    if isinstance(value, Closure):
        return f"fn<{value.name}({len(value.params)})>"
    return str(value)


def to_json(value: Any) -> Any:
    """A value as JSON-serialisable data (tuples become arrays; functions are not data)."""
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, Closure):
        raise HogRuntimeError("A function cannot be turned into JSON")
    return value


def json_text(value: Any, indent: int | None = None) -> str:
    return json.dumps(to_json(value), indent=indent, ensure_ascii=False)
