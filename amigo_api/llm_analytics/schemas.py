"""Request and response models: Amigo's shapes on `/v1` routes, PostHog's on `/api` routes."""

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

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


# Responses (PostHog's serializers' fields) --------------------------------------------------------------

ItemT = TypeVar("ItemT")


class Page(ContractModel, Generic[ItemT]):
    """PostHog's LimitOffsetPagination."""

    count: int
    next: str | None
    previous: str | None
    results: list[ItemT]


class DatasetOut(ContractModel):
    id: str
    name: str
    description: str | None
    metadata: Any
    created_at: datetime
    updated_at: datetime | None
    deleted: bool | None
    created_by: UserBasic | None
    team: int


class DatasetItemOut(ContractModel):
    id: str
    dataset: str
    input: Any
    output: Any
    metadata: Any
    ref_trace_id: str | None
    ref_timestamp: datetime | None
    ref_source_id: str | None
    deleted: bool | None
    created_at: datetime
    updated_at: datetime | None
    created_by: UserBasic | None
    team: int


class ModelConfigurationOut(ContractModel):
    provider: str
    model: str
    provider_key_id: str | None
    provider_key_name: str | None


class EvaluationOut(ContractModel):
    id: str
    name: str
    description: str
    enabled: bool
    status: Literal["active", "paused", "error"]
    status_reason: str | None
    evaluation_type: str
    evaluation_config: dict[str, Any]
    output_type: str
    output_config: dict[str, Any]
    conditions: list[dict[str, Any]]
    model_configuration: ModelConfigurationOut | None
    created_at: datetime
    updated_at: datetime
    created_by: UserBasic | None
    deleted: bool


class ProviderKeyOut(ContractModel):
    id: str
    provider: str
    name: str
    base_url: str
    state: Literal["ok", "invalid", "error"]
    error_message: str | None
    api_key_masked: str = Field(description="The key itself is never shown.")
    created_at: datetime


class EvaluationConfigOut(ContractModel):
    trial_eval_limit: int
    trial_evals_used: int
    trial_evals_remaining: int
    active_provider_key: ProviderKeyOut | None
    created_at: datetime
    updated_at: datetime


class EvaluationRunOut(ContractModel):
    """A run of an evaluation (an extension of PostHog's API)."""

    id: str = Field(description="The run's workflow id.")
    evaluation_id: str
    target_event_id: str
    trigger: Literal["manual", "automatic"]
    status: Literal["started", "completed", "skipped", "failed"]
    verdict: bool | None
    applicable: bool | None
    reasoning: str | None
    skip_reason: str | None
    message: str | None
    started_at: datetime
    finished_at: datetime | None
