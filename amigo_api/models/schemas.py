"""Contract models of get-models."""

from typing import Any

from pydantic import ConfigDict

from amigo_api.core.schemas import ContractModel


class Model(ContractModel):
    model_config = ConfigDict(extra="allow")

    name: str
    params_model_schema: dict[str, Any]


class GetModelsResponse(ContractModel):
    model_config = ConfigDict(extra="allow")

    models: list[Model]
