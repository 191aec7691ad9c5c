"""PostHog's event property filters (`{"key", "value", "operator", "type"}`) compiled to Hog, so matching an
event against an evaluation's conditions runs on the same engine, from the same stored form, as a Hog
evaluation. Filters of one condition are AND-ed; person filters match nothing (there are no persons here)."""

from collections.abc import Callable
from typing import Any

from amigo_api.hog import ast as a
from amigo_api.hog.bytecode import load, to_bytecode
from amigo_api.hog.engine import run
from amigo_api.hog.runtime import Limits

OPERATORS = ("exact", "is_not", "icontains", "not_icontains", "regex", "not_regex", "gt", "gte", "lt", "lte",
             "is_set", "is_not_set")
COMPARISONS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
MAX_KEY = 400
MAX_VALUES = 100
SCALARS = (str, int, float, bool, type(None))
MATCH_LIMITS = Limits(timeout_seconds=1.0, memory_bytes=8 * 1024 * 1024)


class FilterError(ValueError):
    """A filter that cannot be compiled: the condition stores this message as its `bytecode_error`."""


def _constant(value: Any) -> a.Node:
    return a.Constant(0, 0, value)


def _not(node: a.Node) -> a.Node:
    return a.Unary(0, 0, "not", node)


def _call(name: str, *args: a.Node) -> a.Node:
    return a.Call(0, 0, a.Name(0, 0, name), list(args))


def _value(raw: Any) -> Any:
    if isinstance(raw, list):
        if len(raw) > MAX_VALUES or not all(isinstance(v, SCALARS) for v in raw):
            raise FilterError(f"A filter's value list holds at most {MAX_VALUES} plain values")
        return raw
    if not isinstance(raw, SCALARS):
        raise FilterError("A filter's value must be a plain value or a list of them")
    return raw


def _text_match(operator: str, prop: a.Node, value: Any) -> a.Node:
    """`icontains` and `regex` (and their negations), true for any of a list of values."""
    values = value if isinstance(value, list) else [value]
    matches: list[a.Node] = []
    for item in values:
        if operator.endswith("icontains"):
            matches.append(a.Binary(0, 0, "ilike", _call("toString", prop), _constant(f"%{item}%")))
        else:
            matches.append(a.Binary(0, 0, "=~", _call("toString", prop), _constant(str(item))))
    matched = _any(matches)
    return _not(matched) if operator.startswith("not_") else matched


def _any(nodes: list[a.Node]) -> a.Node:
    combined = nodes[0] if nodes else _constant(False)
    for node in nodes[1:]:
        combined = a.Binary(0, 0, "or", combined, node)
    return combined


def filter_expression(prop_filter: Any) -> a.Node:
    if not isinstance(prop_filter, dict):
        raise FilterError("A property filter must be an object")
    filter_type = prop_filter.get("type", "event")
    if filter_type == "person":
        return _constant(False)
    if filter_type != "event":
        raise FilterError(f"Unsupported property filter type: {filter_type!r}")
    key, operator = prop_filter.get("key"), prop_filter.get("operator") or "exact"
    if not isinstance(key, str) or not key or len(key) > MAX_KEY:
        raise FilterError(f"A property filter needs a `key` of 1 to {MAX_KEY} characters")
    if operator not in OPERATORS:
        raise FilterError(f"Unsupported property filter operator: {str(operator)[:50]!r}")
    prop = a.Index(0, 0, a.Name(0, 0, "properties"), _constant(key))
    if operator in ("is_set", "is_not_set"):
        return a.IsNull(0, 0, prop, negated=operator == "is_set")
    value = _value(prop_filter.get("value"))
    if operator in ("exact", "is_not"):
        if isinstance(value, list):
            return a.Binary(0, 0, "in" if operator == "exact" else "not in", prop,
                            a.ArrayLiteral(0, 0, [_constant(v) for v in value]))
        return a.Binary(0, 0, "==" if operator == "exact" else "!=", prop, _constant(value))
    if operator in COMPARISONS:
        return a.Binary(0, 0, COMPARISONS[operator], _call("toFloat", prop), _call("toFloat", _constant(value)))
    return _text_match(operator, prop, value)


def compile_filters(properties: list[Any]) -> list[Any]:
    """One condition's filters, AND-ed, as a stored program returning true or false."""
    test: a.Node = _constant(True)
    for prop_filter in properties:
        expression = filter_expression(prop_filter)
        test = expression if isinstance(test, a.Constant) else a.Binary(0, 0, "and", test, expression)
    return to_bytecode(a.Program(0, 0, [a.Return(0, 0, test)]))


def matcher(bytecode: Any) -> Callable[[dict[str, Any]], bool]:
    """Whether an event's properties pass a condition's compiled filters; a failing run does not match.
    StaleBytecode when the stored form is not current."""
    program = load(bytecode)

    def matches(properties: dict[str, Any]) -> bool:
        result = run(program, {"properties": properties}, MATCH_LIMITS)
        return result.error is None and result.value is True
    return matches
