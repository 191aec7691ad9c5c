"""The LLM model registry: which models version sets may prefer and which parameters each accepts.

The list is a versioned data file shipped in the package (`amigo_api/data/models.json`); the setting
`AMIGO_MODELS_FILE` points at another file of the same shape to replace it."""

import functools
import json
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from amigo_api.core.errors import InvalidRequest
from amigo_api.models import schemas as s


class ModelRegistryError(RuntimeError):
    """The models file is missing or malformed; raised at startup with what to fix."""


class ModelRegistry:
    def __init__(self, document: Mapping[str, Any], source: str) -> None:
        try:
            self.version = str(document["version"])
            entries = list(document["models"])
            self._models = {str(m["name"]): m for m in entries}
            self._validators = {name: Draft202012Validator(m["params_model_schema"])
                                for name, m in self._models.items()}
            for validator in self._validators.values():
                Draft202012Validator.check_schema(validator.schema)
        except (KeyError, TypeError, SchemaError) as exc:
            raise ModelRegistryError(
                f"{source} is not a valid models file ({exc}); it needs `version` and `models`, each model with "
                "`name` and a JSON Schema in `params_model_schema`.") from exc

    @classmethod
    def load(cls, path: str | None = None) -> "ModelRegistry":
        if path is None:
            text = resources.files("amigo_api").joinpath("data/models.json").read_text()
            return cls(json.loads(text), "the packaged models file")
        try:
            return cls(json.loads(Path(path).read_text()), path)
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelRegistryError(f"Cannot read the models file {path} ({exc}); fix AMIGO_MODELS_FILE.") from exc

    @functools.cached_property
    def listing_json(self) -> bytes:
        """get-models' answer, serialised once: the list never changes while the process runs."""
        listing = s.GetModelsResponse(models=[s.Model.model_validate(m) for m in self.supported()])
        return listing.model_dump_json(by_alias=True).encode()

    def supported(self) -> list[dict[str, Any]]:
        """Models that new preferences may name (deprecated ones are kept only to explain refusals)."""
        return [m for m in self._models.values() if not m.get("deprecated", False)]

    def unusable(self, names: Iterable[str]) -> list[str]:
        """The names among `names` that are unknown or deprecated."""
        return sorted({n for n in names if n not in self._models or self._models[n].get("deprecated", False)})

    def check_preferences(self, preferences: Mapping[str, Mapping[str, Any]]) -> None:
        """Every `{interaction: {llm_name, params}}` entry names a supported model with valid params."""
        for interaction, config in preferences.items():
            name = config["llm_name"]
            if self.unusable([name]):
                raise InvalidRequest(
                    f"LLM config for {interaction!r}: model {name!r} is not supported; get-models lists the "
                    "supported ones.", error_code="invalid_llm_config")
            error = next(iter(self._validators[name].iter_errors(config.get("params") or {})), None)
            if error is not None:
                where = ".".join(str(p) for p in error.absolute_path)
                raise InvalidRequest(
                    f"LLM config for {interaction!r}: params{'.' + where if where else ''} is invalid for "
                    f"{name!r}: {error.message}.", error_code="invalid_llm_config")
