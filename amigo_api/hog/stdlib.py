"""Hog's standard library (reference §7.4), its core (`library.py` has the whole of it): output, types and conversion,
strings, null and emptiness, arrays and dicts (functions first, never mutating), JSON, errors and math."""

import base64
import json
import math
import operator
import urllib.parse
from collections.abc import Callable
from typing import Any

from amigo_api.hog.runtime import Runtime, call_value, like, position_of, regex_search
from amigo_api.hog.runtime import pattern as compiled_pattern
from amigo_api.hog.values import HogRuntimeError, json_text, printed, to_string, truthy, typeof

Function = Callable[[Runtime, list[Any]], Any]
JSON_PARSE_FACTOR = 24  # bytes charged per character of parsed JSON: more than any value it can make
COMPARE = {"==": operator.eq, "!=": operator.ne, ">": operator.gt, ">=": operator.ge, "<": operator.lt,
           "<=": operator.le}


def _arg(args: list[Any], index: int) -> Any:
    return args[index] if index < len(args) else None


def _print(runtime: Runtime, args: list[Any]) -> None:
    runtime.output.append(runtime.joined([printed(a, nested=False) for a in args], " "))


def _length(runtime: Runtime, args: list[Any]) -> int:
    value = _arg(args, 0)
    return 0 if value is None else len(value) if isinstance(value, str | list | tuple | dict) else 0


def _strings(function: Callable[[str], Any]) -> Function:
    """A string function: null in, null out."""
    def run(runtime: Runtime, args: list[Any]) -> Any:
        value = _arg(args, 0)
        return None if value is None else function(to_string(value))
    return run


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | tuple | dict) and len(value) == 0)


def _to_int(value: Any) -> int | None:
    try:
        return int(float(value)) if isinstance(value, str) else int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _to_float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _items(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list | tuple):
        return list(value)
    raise HogRuntimeError(f"Expected an array, got {typeof(value)}")


def _higher(kind: str) -> Function:
    """`arrayMap(f, arr)` and friends: the function first; a null array gives an empty result or false."""
    def run(runtime: Runtime, args: list[Any]) -> Any:
        function, items = _arg(args, 0), _items(_arg(args, 1))
        results = [call_value(runtime, function, [item]) for item in items]
        if kind == "map":
            return runtime.array(results)
        if kind == "filter":
            return runtime.array([i for i, keep in zip(items, results, strict=True) if truthy(keep)])
        if kind == "exists":
            return any(truthy(r) for r in results)
        return sum(1 for r in results if truthy(r))
    return run


def _reduce(runtime: Runtime, args: list[Any]) -> Any:
    function, accumulator = _arg(args, 0), _arg(args, 2)
    for item in _items(_arg(args, 1)):
        accumulator = call_value(runtime, function, [accumulator, item])
    return accumulator


def _split(runtime: Runtime, args: list[Any]) -> Any:
    separator, text, most = _arg(args, 0), _arg(args, 1), _arg(args, 2)
    if text is None or separator is None:
        return None
    parts = str(text).split(str(separator)) if separator != "" else list(str(text))
    return runtime.array(parts[:most] if isinstance(most, int) and most > 0 else parts)


def _replace(runtime: Runtime, args: list[Any], count: int) -> str | None:
    text, old, new = _arg(args, 0), to_string(_arg(args, 1)), to_string(_arg(args, 2))
    if text is None:
        return None
    text = to_string(text)
    replaced = text.count(old) if count < 0 else min(1, text.count(old))
    runtime.room_for(chars=len(text) + replaced * max(0, len(new) - len(old)))
    return runtime.text(text.replace(old, new, count))


def _grown(runtime: Runtime, value: Any) -> list[Any]:
    """An array about to get one more item, refused first if that is more than the limit."""
    items = _items(value)
    runtime.room_for(items=len(items) + 1)
    return items


def _json_parse(runtime: Runtime, args: list[Any]) -> Any:
    """Invalid JSON is not a Hog error, as in PostHog's VM: `try/catch` does not catch it, and the run ends
    with "Unexpected error during evaluation" (guard with `isValidJSON`)."""
    text = str(_arg(args, 0))
    runtime.charge(JSON_PARSE_FACTOR * len(text))  # an upper bound for everything the text can hold
    return json.loads(text)


def _range(runtime: Runtime, args: list[Any]) -> list[int]:
    bounds = [int(a) for a in args[:2]]
    start, end = (0, bounds[0]) if len(bounds) == 1 else (bounds[0], bounds[1])
    if end - start > runtime.limits.array_items:
        raise HogRuntimeError("range() is too large")
    return runtime.array(list(range(start, end)))


def _round(runtime: Runtime, args: list[Any]) -> Any:
    value, digits = _arg(args, 0), _arg(args, 1)
    return None if value is None else round(value) if digits is None else round(value, int(digits))


FUNCTIONS: dict[str, Function] = {
    "print": _print,
    "typeof": lambda r, a: typeof(_arg(a, 0)),
    "toString": lambda r, a: "null" if _arg(a, 0) is None else r.text(to_string(a[0])),
    "toInt": lambda r, a: _to_int(_arg(a, 0)),
    "toFloat": lambda r, a: _to_float(_arg(a, 0)),
    "length": _length,
    "lower": _strings(str.lower), "upper": _strings(str.upper), "reverse": _strings(lambda s: s[::-1]),
    "trim": lambda r, a: None if _arg(a, 0) is None else str(_arg(a, 0)).strip(_arg(a, 1) or None),
    "trimLeft": lambda r, a: None if _arg(a, 0) is None else str(_arg(a, 0)).lstrip(_arg(a, 1) or None),
    "trimRight": lambda r, a: None if _arg(a, 0) is None else str(_arg(a, 0)).rstrip(_arg(a, 1) or None),
    "position": lambda r, a: None if _arg(a, 0) is None else str(_arg(a, 0)).find(str(_arg(a, 1))) + 1,
    "positionCaseInsensitive": lambda r, a: None if _arg(a, 0) is None else
    str(_arg(a, 0)).lower().find(str(_arg(a, 1)).lower()) + 1,
    "startsWith": lambda r, a: None if _arg(a, 0) is None else str(_arg(a, 0)).startswith(str(_arg(a, 1))),
    "substring": lambda r, a: None if _arg(a, 0) is None else str(_arg(a, 0))[
        max(int(_arg(a, 1)) - 1, 0):(None if _arg(a, 2) is None else max(int(_arg(a, 1)) - 1, 0) + int(_arg(a, 2)))],
    "concat": lambda r, a: r.joined([to_string(x) for x in a]),
    "replaceAll": lambda r, a: _replace(r, a, -1),
    "replaceOne": lambda r, a: _replace(r, a, 1),
    "splitByString": _split,
    "empty": lambda r, a: _empty(_arg(a, 0)),
    "notEmpty": lambda r, a: not _empty(_arg(a, 0)),
    "isNull": lambda r, a: _arg(a, 0) is None,
    "isNotNull": lambda r, a: _arg(a, 0) is not None,
    "ifNull": lambda r, a: _arg(a, 1) if _arg(a, 0) is None else a[0],
    "coalesce": lambda r, a: next((x for x in a if x is not None), None),
    "keys": lambda r, a: r.array(list(_arg(a, 0).keys()) if isinstance(_arg(a, 0), dict) else []),
    "values": lambda r, a: r.array(_items(_arg(a, 0))),
    "has": lambda r, a: isinstance(_arg(a, 0), list | tuple) and _arg(a, 1) in a[0],
    "indexOf": lambda r, a: next((i + 1 for i, x in enumerate(_arg(a, 0) or []) if x == _arg(a, 1)), 0),
    "arrayPushBack": lambda r, a: r.array([*_grown(r, _arg(a, 0)), _arg(a, 1)]),
    "arrayPushFront": lambda r, a: r.array([_arg(a, 1), *_grown(r, _arg(a, 0))]),
    "arrayPopBack": lambda r, a: r.array(_items(_arg(a, 0))[:-1]),
    "arrayPopFront": lambda r, a: r.array(_items(_arg(a, 0))[1:]),
    "arraySort": lambda r, a: r.array(sorted(_items(_arg(a, 0)))),
    "arrayReverse": lambda r, a: r.array(_items(_arg(a, 0))[::-1]),
    "arrayReverseSort": lambda r, a: r.array(sorted(_items(_arg(a, 0)), reverse=True)),
    "arrayStringConcat": lambda r, a: r.joined([to_string(x) for x in _items(_arg(a, 0))], str(_arg(a, 1) or "")),
    "arrayMap": _higher("map"), "arrayFilter": _higher("filter"), "arrayExists": _higher("exists"),
    "arrayCount": _higher("count"), "arrayReduce": _reduce,
    "range": _range,
    "tuple": lambda r, a: tuple(a),
    "jsonParse": _json_parse,
    "jsonStringify": lambda r, a: r.text(json_text(_arg(a, 0), _arg(a, 1))),
    "isValidJSON": lambda r, a: _valid_json(_arg(a, 0)),
    "Error": lambda r, a: r.error_value("Error", _arg(a, 0), _arg(a, 1)),
    "HogError": lambda r, a: r.error_value(str(_arg(a, 0)), _arg(a, 1), _arg(a, 2)),
    "if": lambda r, a: _arg(a, 1) if truthy(_arg(a, 0)) else _arg(a, 2),
    "not": lambda r, a: not truthy(_arg(a, 0)),
    "round": _round,
    "floor": lambda r, a: None if _arg(a, 0) is None else math.floor(a[0]),
    "ceil": lambda r, a: None if _arg(a, 0) is None else math.ceil(a[0]),
    "abs": lambda r, a: None if _arg(a, 0) is None else abs(a[0]),
    "min2": lambda r, a: min(a[0], a[1]),
    "max2": lambda r, a: max(a[0], a[1]),
}


def _valid_json(value: Any) -> bool:
    try:
        json.loads(str(value))
    except ValueError:
        return False
    return True


# Logic, comparison, matching, encodings, hashing and JSON paths -------------------------------------------

def _multi_if(runtime: Runtime, args: list[Any]) -> Any:
    """`multiIf(c1, a1, c2, a2, ..., else)`."""
    for index in range(0, len(args) - 1, 2):
        if truthy(args[index]):
            return args[index + 1]
    return args[-1] if len(args) % 2 else None


def json_path(args: list[Any]) -> tuple[bool, Any]:
    """`JSONExtract*(json, ...path)`: JSON text or a value; path parts are keys or 1-based indexes (negative
    from the end); (found, value)."""
    value = _arg(args, 0)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return False, None
    for part in args[1:]:
        if isinstance(value, dict) and isinstance(part, str) and part in value:
            value = value[part]
        elif isinstance(value, list) and isinstance(part, int) and (at := position_of(part, len(value))) is not None:
            value = value[at]
        else:
            return False, None
    return True, value


def _regex(runtime: Runtime, args: list[Any]) -> Any:
    text, pattern = _arg(args, 0), _arg(args, 1)
    return text is not None and pattern is not None and regex_search(text, pattern, True)


def extract_regex(runtime: Runtime, args: list[Any]) -> Any:
    text, pattern = _arg(args, 0), _arg(args, 1)
    if text is None or pattern is None:
        return None
    found = compiled_pattern(str(pattern), True).search(str(text))
    return "" if found is None else (found.group(1) if found.re.groups else found.group(0))


def _comparison(op: str) -> Function:
    """`equals(a, b)` and friends compare strictly, without the operators' mixed-type rules
    (`equals(1, '1')` is false where `1 = '1'` is true)."""
    def run(runtime: Runtime, args: list[Any]) -> bool:
        try:
            return bool(COMPARE[op](_arg(args, 0), _arg(args, 1)))
        except TypeError as error:
            raise HogRuntimeError(f"Cannot compare {typeof(args[0])} and {typeof(args[1])}") from error
    return run


def _json_number(kind: type[int] | type[float]) -> Function:
    def run(runtime: Runtime, args: list[Any]) -> Any:
        value = json_path(args)[1]
        try:
            return None if isinstance(value, bool | dict | list) else kind(value)
        except (TypeError, ValueError, OverflowError):
            return None
    return run


FUNCTIONS.update({
    "multiIf": _multi_if,
    "and": lambda r, a: all(truthy(x) for x in a),
    "or": lambda r, a: any(truthy(x) for x in a),
    "equals": _comparison("=="), "notEquals": _comparison("!="), "greater": _comparison(">"),
    "greaterOrEquals": _comparison(">="), "less": _comparison("<"), "lessOrEquals": _comparison("<="),
    "plus": lambda r, a: r.arithmetic("+", a[0], a[1]), "minus": lambda r, a: r.arithmetic("-", a[0], a[1]),
    "assumeNotNull": lambda r, a: _arg(a, 0),
    "match": _regex,
    "like": lambda r, a: like(a[0], a[1], True), "ilike": lambda r, a: like(a[0], a[1], False),
    "notLike": lambda r, a: not like(a[0], a[1], True), "notILike": lambda r, a: not like(a[0], a[1], False),
    "extractRegex": extract_regex,
    "encodeURLComponent": lambda r, a: None if _arg(a, 0) is None else urllib.parse.quote(str(a[0]), safe=""),
    "decodeURLComponent": lambda r, a: None if _arg(a, 0) is None else urllib.parse.unquote(str(a[0])),
    "base64Encode": lambda r, a: None if _arg(a, 0) is None else base64.b64encode(str(a[0]).encode()).decode(),
    "base64Decode": lambda r, a: None if _arg(a, 0) is None else base64.b64decode(str(a[0])).decode(
        errors="replace"),
    "JSONHas": lambda r, a: json_path(a)[0],
    "JSONLength": lambda r, a: len(v) if isinstance(v := json_path(a)[1], list | dict) else 0,
    "JSONExtractString": lambda r, a: None if (v := json_path(a)[1]) is None else v if isinstance(v, str) else
    json_text(v),
    "JSONExtractInt": _json_number(int),
    "JSONExtractFloat": _json_number(float),
    "JSONExtractBool": lambda r, a: v if isinstance(v := json_path(a)[1], bool) else False,
})
