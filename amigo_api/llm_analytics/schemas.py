"""Request and response models: Amigo's shapes on `/v1` routes, PostHog's on `/api` routes."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from amigo_api.core.schemas import ContractModel

SCOPES = ("dataset:read", "dataset:write", "evaluation:read", "evaluation:write", "*")
Scope = Literal["dataset:read", "dataset:write", "evaluation:read", "evaluation:write", "*"]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class CreateEnvironmentRequest(ContractModel):
    name: Name = Field(description="A name for the environment (PostHog's project).")


class Environment(ContractModel):
    """PostHog's team, as much of it as LLM analytics needs."""

    id: int = Field(description="Globally unique; the `{environment_id}` of `/api/environments/...`.")
    uuid: str
    name: str
    organization: str = Field(description="The Amigo organization that owns it.")
    api_token: str = Field(description="The public project token (`phc_...`) that capture requests carry.")
    created_at: datetime
    updated_at: datetime


class ListEnvironmentsResponse(ContractModel):
    environments: list[Environment]
    has_more: bool
    continuation_token: int | None


class CreatePersonalApiKeyRequest(ContractModel):
    label: Name
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=len(SCOPES))] = Field(
        description="`dataset:read|write`, `evaluation:read|write`, or `*`; a `:write` scope implies `:read`.")


class PersonalApiKey(ContractModel):
    id: str
    label: str
    scopes: list[str]
    mask_value: str
    created_at: datetime
    last_used_at: datetime | None


class CreatedPersonalApiKey(PersonalApiKey):
    value: str = Field(description="The key (`phx_...`), shown only in this answer: only its hash is stored.")


class ListPersonalApiKeysResponse(ContractModel):
    api_keys: list[PersonalApiKey]


class UserBasic(ContractModel):
    """PostHog's UserBasic from the Amigo user. `id` is the Amigo user id (a string, where PostHog's is an
    integer); `uuid` is a stable UUID derived from it."""

    id: str
    uuid: str
    distinct_id: str
    first_name: str
    last_name: str
    email: str
    is_email_verified: bool
    hedgehog_config: dict[str, Any] | None = None
    role_at_organization: str | None = None


# Datasets and dataset items (PostHog's request fields; `team`, `created_by` and unknown fields are ignored) --

LongName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=400)]
Reference = Annotated[str, StringConstraints(max_length=255)]


class DatasetCreate(ContractModel):
    name: LongName
    description: str | None = None
    metadata: Any = None
    deleted: bool | None = None


class DatasetPatch(ContractModel):
    name: LongName | None = None
    description: str | None = None
    metadata: Any = None
    deleted: bool | None = None


class DatasetItemWrite(ContractModel):
    dataset: str | None = None
    input: Any = None
    output: Any = None
    metadata: Any = None
    ref_trace_id: Reference | None = None
    ref_timestamp: datetime | None = None
    ref_source_id: Reference | None = None
    deleted: bool | None = None


# Evaluations and provider keys --------------------------------------------------------------------------

Provider = Literal["openai", "anthropic", "gemini", "openrouter", "fireworks", "azure_openai", "together_ai",
                   "minimax", "zeabur"]


class ModelConfigurationIn(ContractModel):
    provider: Provider
    model: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    provider_key_id: str | None = None


class EvaluationCreate(ContractModel):
    name: LongName
    description: Annotated[str, StringConstraints(max_length=10_000)] = ""
    enabled: bool = False
    evaluation_type: Literal["llm_judge", "hog"]
    output_type: Literal["boolean"]
    evaluation_config: dict[str, Any] | None = None
    output_config: dict[str, Any] | None = None
    conditions: Any = None
    model_configuration: ModelConfigurationIn | None = None
    deleted: bool | None = None


class EvaluationPatch(ContractModel):
    name: LongName | None = None
    description: Annotated[str, StringConstraints(max_length=10_000)] | None = None
    enabled: bool | None = None
    evaluation_type: Literal["llm_judge", "hog"] | None = None
    output_type: Literal["boolean"] | None = None
    evaluation_config: dict[str, Any] | None = None
    output_config: dict[str, Any] | None = None
    conditions: Any = None
    model_configuration: ModelConfigurationIn | None = None
    deleted: bool | None = None


class ProviderKeyCreate(ContractModel):
    provider: Provider
    name: LongName
    api_key: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4096)]
    base_url: Annotated[str, StringConstraints(pattern=r"^https?://[^\s]+$", max_length=2048)] | None = None


class SetActiveKey(ContractModel):
    key_id: str | None = None
