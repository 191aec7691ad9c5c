"""The rules of an evaluation's fields (reference §4.1-§4.4, the newer behaviour where versions differ):
configs by `(evaluation_type, output_type)`, conditions, the `enabled`/`status` coupling, and the judge's
`model_configuration`."""

import uuid
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator

from amigo_api.hog.filters import FilterError, compile_filters
from amigo_api.llm_analytics.errors import FieldError

PROVIDERS = ("openai", "anthropic", "gemini", "openrouter", "fireworks", "azure_openai", "together_ai", "minimax",
             "zeabur")
# The models the trial (PostHog's own key) may run: any other model needs a provider key.
TRIAL_MODELS = {"openai": "gpt-5-mini", "anthropic": "claude-3-5-haiku-20241022", "gemini": "gemini-2.0-flash-lite"}


class JudgeConfig(BaseModel):
    prompt: str = Field(min_length=1)

    @field_validator("prompt")
    @classmethod
    def _not_blank(cls, prompt: str) -> str:
        if not prompt.strip():
            raise ValueError("Prompt cannot be empty")
        return prompt.strip()


MAX_HOG_SOURCE = 100_000


class HogConfig(BaseModel):
    source: str = Field(max_length=MAX_HOG_SOURCE)
    bytecode: list[Any] = Field(default_factory=list)

    @field_validator("source")
    @classmethod
    def _not_blank(cls, source: str) -> str:
        if not source.strip():
            raise ValueError("Source code cannot be empty")
        return source


class BooleanOutput(BaseModel):
    allows_na: bool = False


CONFIGS: dict[tuple[str, str], tuple[type[BaseModel], type[BaseModel]]] = {
    ("llm_judge", "boolean"): (JudgeConfig, BooleanOutput), ("hog", "boolean"): (HogConfig, BooleanOutput)}


def _first_message(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg'].removeprefix('Value error, ')}" if where else first["msg"]


def validate_configs(evaluation_type: str, output_type: str, evaluation_config: Any, output_config: Any
                     ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both configs as stored (unknown keys dropped, the prompt stripped, `{}` output as `allows_na: false`);
    400 with `attr` `config`."""
    models = CONFIGS.get((evaluation_type, output_type))
    if models is None:
        raise FieldError(f"Unsupported combination: {evaluation_type} + {output_type}", "config")
    try:
        evaluation = models[0].model_validate(evaluation_config if evaluation_config is not None else {})
        output = models[1].model_validate(output_config if output_config is not None else {})
    except ValidationError as error:
        raise FieldError(f"Invalid config for {evaluation_type}/{output_type}: {_first_message(error)}",
                         "config") from error
    return evaluation.model_dump(), output.model_dump()


class Condition(BaseModel):
    id: str = Field(default_factory=lambda: f"cond-{uuid.uuid4().hex[:13]}", max_length=200)
    rollout_percentage: float = Field(default=100, ge=0, le=100)
    properties: list[dict[str, Any]] = Field(default_factory=list, max_length=100)


def validate_conditions(conditions: Any) -> list[dict[str, Any]]:
    """Unknown keys dropped, `rollout_percentage` 100 unless given and within 0..100 (400 otherwise)."""
    if conditions is None:
        return []
    if not isinstance(conditions, list) or len(conditions) > 100:
        raise FieldError("Expected a list of at most 100 condition sets.", "conditions")
    try:
        return [compiled_condition(Condition.model_validate(c).model_dump()) for c in conditions]
    except ValidationError as error:
        raise FieldError(f"Invalid condition: {_first_message(error)}", "conditions") from error


def compiled_condition(condition: dict[str, Any]) -> dict[str, Any]:
    """The condition with its filters compiled (`bytecode`), or why they could not be (`bytecode_error`):
    such a condition never matches."""
    try:
        return {**condition, "bytecode": compile_filters(condition["properties"]), "bytecode_error": None}
    except FilterError as error:
        return {**condition, "bytecode": None, "bytecode_error": str(error)}


def status_for(enabled: bool) -> tuple[str, None]:
    """`status` follows `enabled` whenever a client toggles it: active (enabled) or paused, with no reason."""
    return ("active" if enabled else "paused"), None


def model_allowed_without_key(provider: str, model: str, registry_names: set[str]) -> bool:
    return TRIAL_MODELS.get(provider) == model or model in registry_names or f"{provider}_{model}" in registry_names
