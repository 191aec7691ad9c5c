"""Tool inputs checked against a version's input schema (its entrypoint model's JSON Schema) with
`jsonschema`, before any tool code runs: 400 naming the input and the failing path.

The schema and the inputs are both the tenant's, and they are checked in the API process: `pattern` and
`patternProperties` run on RE2 (linear time) instead of Python's backtracking `re`, where `^(a+)+$` against forty
`a`s and a `!` would hold the process for hours. Publishing refuses patterns RE2 cannot run (lookaround,
backreferences)."""

import functools
from collections.abc import Iterator
from typing import Any

import re2
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import SchemaError, ValidationError

from amigo_api.core.errors import InvalidRequest

MAX_MESSAGE = 500


class InvalidToolInput(InvalidRequest):
    error_code = "invalid_tool_input"


def _path(error_path: Any) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error_path) or "(the input)"


@functools.lru_cache(maxsize=256)
def _regex(pattern: str) -> Any:
    options = re2.Options()
    options.log_errors, options.max_mem = False, 8 << 20
    return re2.compile(pattern, options)


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _regex(pattern).search(instance):
        yield ValidationError(f"{instance[:100]!r} does not match {pattern!r}")


def _pattern_properties(validator: Any, patterns: dict[str, Any], instance: Any, schema: Any
                        ) -> Iterator[ValidationError]:
    if validator.is_type(instance, "object"):
        for pattern, subschema in patterns.items():
            for key, value in instance.items():
                if _regex(pattern).search(key):
                    yield from validator.descend(value, subschema, path=key, schema_path=pattern)


InputValidator = validators.extend(Draft202012Validator, {"pattern": _pattern,
                                                          "patternProperties": _pattern_properties})


def _patterns(schema: Any) -> Iterator[str]:
    if isinstance(schema, dict):
        if isinstance(schema.get("pattern"), str):
            yield schema["pattern"]
        if isinstance(schema.get("patternProperties"), dict):
            yield from schema["patternProperties"]
        for value in schema.values():
            yield from _patterns(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _patterns(value)


def check_schema(schema: dict[str, Any]) -> None:
    """Publishing checks the schema once, so invokes need not."""
    try:
        Draft202012Validator.check_schema(schema)
        for pattern in _patterns(schema):
            _regex(pattern)
    except SchemaError as exc:
        raise InvalidRequest(f"The entrypoint's input schema is not a valid JSON Schema: {exc.message}",
                             error_code="invalid_entrypoint") from exc
    except re2.error as exc:
        raise InvalidRequest(f"The entrypoint's input schema has a pattern RE2 cannot run ({_reason(exc)}): "
                             "lookaround and backreferences are not supported.",
                             error_code="invalid_entrypoint") from exc


def _reason(error: Exception) -> str:
    return error.args[0].decode() if error.args and isinstance(error.args[0], bytes) else str(error)


def validate_inputs(schema: dict[str, Any], inputs: list[dict[str, Any]]) -> None:
    validator = InputValidator(schema)
    for index, parameters in enumerate(inputs):
        try:
            error = min(validator.iter_errors(parameters), key=lambda e: list(map(str, e.absolute_path)),
                        default=None)
        except re2.error as exc:  # a version published before its patterns were checked
            raise InvalidToolInput(f"The tool's input schema has a pattern RE2 cannot run ({_reason(exc)}).") from exc
        if error is not None:
            message = error.message if len(error.message) <= MAX_MESSAGE else f"{error.message[:MAX_MESSAGE]}..."
            raise InvalidToolInput(f"inputs[{index}].input_parameters{_path(error.absolute_path)}: {message}")
