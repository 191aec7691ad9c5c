"""What a running Hog program uses: scopes, its limits (a deadline checked as it steps, an approximate
memory budget charged before values are built, call depth, string and array sizes), globals, the standard
library, and `print`'s lines. Exceeding a limit ends the run with the reference's message."""

import functools
import math
import operator
import re
import time
from dataclasses import dataclass
from typing import Any

import re2

from amigo_api.hog.values import Closure, HogRuntimeError

STEPS_BETWEEN_CLOCK_CHECKS = 256
MAX_PATTERN = 10_000
def remainder(left: Any, right: Any) -> Any:
    """`%` takes the sign of the dividend, as in every PostHog VM: `-7 % 3` is -1."""
    if isinstance(left, float) or isinstance(right, float):
        return math.fmod(left, right)
    magnitude = abs(left) % abs(right)
    return -magnitude if left < 0 else magnitude


OPERATIONS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "%": remainder}
UNIT_SIZE: dict[type, int] = {str: 1, list: 8, tuple: 8, dict: 16}  # bytes charged per character, item, entry
VALUE_OVERHEAD = 16  # bytes charged per value beyond its content: an approximation of the reference VM's


@dataclass(frozen=True)
class Limits:
    timeout_seconds: float = 5.0
    memory_bytes: int = 64 * 1024 * 1024
    call_depth: int = 128
    string_chars: int = 10 * 1024 * 1024
    array_items: int = 1_000_000


class HogTimeout(Exception):
    def __init__(self, limits: Limits) -> None:
        super().__init__(f"Execution timed out ({limits.timeout_seconds:g}s limit exceeded)")


class HogMemoryError(Exception):
    def __init__(self) -> None:
        super().__init__("Memory limit exceeded")


class Runtime:
    def __init__(self, globals_: dict[str, Any], limits: Limits, functions: dict[str, Any]) -> None:
        self.globals, self.limits, self.functions = globals_, limits, functions
        self.deadline = time.monotonic() + limits.timeout_seconds
        self.memory = self.depth = 0
        self.budget = STEPS_BETWEEN_CLOCK_CHECKS  # steps (loop turns, calls) left before the clock is read
        self.output: list[str] = []

    def tick(self) -> None:
        self.budget -= 1
        if self.budget < 0:
            self.check_clock()

    def check_clock(self) -> None:
        self.budget = STEPS_BETWEEN_CLOCK_CHECKS
        if time.monotonic() > self.deadline:
            raise HogTimeout(self.limits)

    def charge(self, size: int) -> None:
        self.memory += size + VALUE_OVERHEAD
        if self.memory > self.limits.memory_bytes:
            raise HogMemoryError()

    def room_for(self, chars: int = 0, items: int = 0) -> None:
        """Refuses, before anything is built, a string or an array larger than the limits allow."""
        if chars > self.limits.string_chars or items > self.limits.array_items or \
                self.memory + chars + UNIT_SIZE[list] * items > self.limits.memory_bytes:
            raise HogMemoryError()

    def joined(self, parts: list[str], separator: str = "") -> str:
        """Strings put together, their size checked before they are."""
        self.room_for(chars=sum(map(len, parts)) + len(separator) * max(0, len(parts) - 1))
        return self.text(separator.join(parts))

    def text(self, value: str) -> str:
        if len(value) > self.limits.string_chars:
            raise HogMemoryError()
        self.charge(len(value))
        return value

    def array(self, items: list[Any]) -> list[Any]:
        if len(items) > self.limits.array_items:
            raise HogMemoryError()
        self.charge(8 * len(items))
        return items

    def size_of(self, value: Any) -> int:
        """What a string, array, tuple or dict is charged (its own content; what it holds is charged apart)."""
        unit = UNIT_SIZE.get(type(value))
        return 0 if unit is None else len(value) * unit + VALUE_OVERHEAD

    def charge_value(self, value: Any) -> None:
        if size := self.size_of(value):
            self.memory += size
            if self.memory > self.limits.memory_bytes:
                raise HogMemoryError()

    def release(self, value: Any) -> None:
        """Gives back what a value was charged, once nothing holds it any more (a variable overwritten)."""
        self.memory -= self.size_of(value)

    def mapping(self, items: dict[Any, Any]) -> dict[Any, Any]:
        self.charge(16 * len(items))
        return items

    def arithmetic(self, op: str, left: Any, right: Any) -> Any:
        if op == "+" and isinstance(left, str) and isinstance(right, str):
            return self.joined([left, right])
        if op == "*" and (isinstance(left, str | list) or isinstance(right, str | list)):
            raise HogRuntimeError("Cannot multiply a string or an array")
        try:
            return OPERATIONS[op](left, right)
        except ZeroDivisionError as exc:
            raise HogRuntimeError("Division by zero") from exc
        except TypeError as exc:
            raise HogRuntimeError(f"Cannot apply {op} to {type(left).__name__} and {type(right).__name__}") from exc

    def global_value(self, name: str) -> Any:
        if name not in self.globals:
            raise HogRuntimeError(f"Global variable not found: {name}")
        return self.globals[name]

    def call_named(self, name: str, args: list[Any]) -> Any:
        function = self.functions.get(name)
        if function is None:
            value = self.globals.get(name)
            if isinstance(value, Closure):
                return call_value(self, value, args)
            raise HogRuntimeError(f"Unsupported function call: {name}")
        return function(self, args)

    def error_value(self, error_type: str, message: Any, payload: Any = None) -> dict[str, Any]:
        return {"__hogError__": True, "type": error_type, "message": message, "payload": payload}


def call_value(runtime: Runtime, value: Any, args: list[Any]) -> Any:
    """Calls a function value; the call's depth and step are counted by the function itself."""
    if type(value) is not Closure:
        raise HogRuntimeError(f"Cannot call a value of type {type(value).__name__}")
    return value.run(args)


def position_of(index: int, length: int) -> int | None:
    """A 1-based (or negative, from the end) index as a Python one; None when out of range."""
    if index > 0 and index <= length:
        return index - 1
    if index < 0 and -index <= length:
        return length + index
    return None


def get_index(target: Any, key: Any, optional: bool = False) -> Any:
    if target is None:
        return None
    if isinstance(target, dict):
        return target.get(key)
    if isinstance(target, list | tuple | str) and isinstance(key, int) and not isinstance(key, bool):
        position = position_of(key, len(target))
        return None if position is None else target[position]
    return None


def set_index(runtime: Runtime, target: Any, key: Any, value: Any) -> None:
    if isinstance(target, dict):
        if key not in target:
            runtime.charge(UNIT_SIZE[dict])
        target[key] = value
        return
    if isinstance(target, list) and isinstance(key, int) and not isinstance(key, bool):
        position = position_of(key, len(target))
        if position is None:
            raise HogRuntimeError(f"Index {key} out of range")
        target[position] = value
        return
    raise HogRuntimeError(f"Cannot set a field of a value of type {type(target).__name__}")


def pattern(text: str, case_sensitive: bool, literal_newlines: bool = False) -> Any:
    """An RE2 pattern: matching runs in linear time, so no pattern makes a run hang where the clock cannot
    stop it; what RE2 cannot run (backreferences, lookaround) is an error of the program."""
    if len(text) > MAX_PATTERN:
        raise HogRuntimeError(f"Regular expression longer than {MAX_PATTERN} characters")
    return _compiled(text, case_sensitive, literal_newlines)


@functools.lru_cache(maxsize=256)
def _compiled(text: str, case_sensitive: bool, dot_matches_newline: bool) -> Any:
    options = re2.Options()
    options.log_errors, options.case_sensitive, options.dot_nl = False, case_sensitive, dot_matches_newline
    options.max_mem = 8 << 20
    try:
        return re2.compile(text, options)
    except re2.error as exc:
        message = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise HogRuntimeError(f"Invalid regular expression: {message}") from exc


def like(value: Any, like_pattern: Any, case_sensitive: bool) -> bool:
    """SQL `like` as the Python VM runs it: `%` any run, `_` one character, an unanchored search."""
    translated = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in str(like_pattern))
    return pattern(translated, case_sensitive, True).search(str(value)) is not None


def regex_search(value: Any, regex: Any, case_sensitive: bool) -> bool:
    return pattern(str(regex), case_sensitive).search(str(value)) is not None
