"""Tool inputs checked against a version's input schema (its entrypoint model's JSON Schema) with
`jsonschema`, before any tool code runs: 400 naming the input and the failing path."""

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from amigo_api.core.errors import InvalidRequest

MAX_MESSAGE = 500


class InvalidToolInput(InvalidRequest):
    error_code = "invalid_tool_input"


def _path(error_path: Any) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error_path) or "(the input)"


def check_schema(schema: dict[str, Any]) -> None:
    """Publishing checks the schema once, so invokes need not."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise InvalidRequest(f"The entrypoint's input schema is not a valid JSON Schema: {exc.message}",
                             error_code="invalid_entrypoint") from exc


def validate_inputs(schema: dict[str, Any], inputs: list[dict[str, Any]]) -> None:
    validator = Draft202012Validator(schema)
    for index, parameters in enumerate(inputs):
        error = min(validator.iter_errors(parameters), key=lambda e: list(map(str, e.absolute_path)), default=None)
        if error is not None:
            message = error.message if len(error.message) <= MAX_MESSAGE else f"{error.message[:MAX_MESSAGE]}..."
            raise InvalidToolInput(f"inputs[{index}].input_parameters{_path(error.absolute_path)}: {message}")
