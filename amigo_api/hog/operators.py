"""Hog's binary operators as functions of the runtime and two values (reference §7.3)."""

import operator
from collections.abc import Callable
from typing import Any

from amigo_api.hog.runtime import Runtime, like, regex_search, remainder
from amigo_api.hog.values import HogRuntimeError, compare, equals, to_string

ARITHMETIC = ("+", "-", "*", "/", "%")
NUMBERS = (int, float)  # exact types: bool is not a number here
FAST = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "%": remainder,
        "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
        ">=": operator.ge}


def numeric_fast_path(op: str) -> Callable[[Any, Any], Any] | None:
    """For two plain numbers (not zero on the right), an operator needs none of Hog's mixed-type rules."""
    return FAST.get(op)


def _membership(item: Any, container: Any) -> bool:
    if container is None:
        return False
    if isinstance(container, str):
        return isinstance(item, str) and item in container
    if isinstance(container, dict):
        return item in container
    return any(equals(item, x) for x in container)


def binary_operation(op: str) -> Callable[[Runtime, Any, Any], Any]:
    if op in ARITHMETIC:
        return lambda runtime, x, y: runtime.arithmetic(op, x, y)
    if op == "||":
        return lambda runtime, x, y: runtime.joined([to_string(x), to_string(y)])
    if op in ("==", "!="):
        negate = op == "!="
        return lambda runtime, x, y: equals(x, y) != negate
    if op in ("<", "<=", ">", ">="):
        return lambda runtime, x, y: compare(op, x, y)
    if op in ("like", "ilike", "not like", "not ilike"):
        negate, case_sensitive = op.startswith("not"), not op.endswith("ilike")
        return lambda runtime, x, y: (like(x, y, case_sensitive) != negate) if x is not None and y is not None \
            else False
    if op in ("=~", "!~", "=~*", "!~*"):
        negate, case_sensitive = op.startswith("!"), not op.endswith("*")
        return lambda runtime, x, y: (regex_search(x, y, case_sensitive) != negate) if x is not None and y is not None \
            else False
    if op in ("in", "not in"):
        negate = op == "not in"
        return lambda runtime, x, y: _membership(x, y) != negate
    raise HogRuntimeError(f"Unknown operator {op}")
