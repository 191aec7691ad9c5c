"""Contract models of the Service tag."""

from typing import Annotated, Any

from pydantic import Field, StringConstraints

from amigo_api.core.schemas import ContractModel, ObjectId, PositiveCount, StrippedNonemptyString, Tag, Tags, UserInfo

InteractionName = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]
Keyterm = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, pattern=r"^[a-z-]+( [a-z-]+){0,2}$")]
Keyterms = Annotated[list[Keyterm], Field(max_length=20)]
VERSION_SET_NAME_PATTERN = r"^[A-Za-z0-9_-]+$"


class LLMConfig(ContractModel):
    llm_name: str = Field(description="A model from get-models.")
    params: dict[str, Any] = Field(default_factory=dict, description="Parameters valid for the model's "
                                   "`params_model_schema`.")


class VersionSet(ContractModel):
    """Pins the agent, state machine and model preferences a service runs with; a null version means the
    latest."""

    agent_version_number: PositiveCount | None = None
    service_hierarchical_state_machine_version_number: PositiveCount | None = None
    llm_model_preferences: dict[InteractionName, LLMConfig] = Field(
        description="LLM interaction name -> the preferred model config for it.")


class CreateServiceRequest(ContractModel):
    service_hierarchical_state_machine_id: ObjectId
    agent_id: ObjectId
    name: StrippedNonemptyString
    description: StrippedNonemptyString
    is_active: bool
    release_version_set: VersionSet | None = None
    keyterms: Keyterms
    tags: Tags


class CreateServiceResponse(ContractModel):
    id: str


class ServiceInstance(ContractModel):
    id: str
    name: str
    version_sets: dict[str, VersionSet]
    description: str
    is_active: bool
    service_hierarchical_state_machine_id: str
    agent_id: str
    tags: list[Tag]
    keyterms: list[str]
    creator: UserInfo
    updated_by: UserInfo


class ServiceFilterValues(ContractModel):
    tags: list[str] = Field(description="The `key:value` tags (`key:` for a null value) of the services that match "
                                        "the other filters, whatever the caller may see.")


class GetServicesResponse(ContractModel):
    services: list[ServiceInstance]
    has_more: bool
    continuation_token: int | None
    filter_values: ServiceFilterValues | None


class UpsertVersionSetRequest(ContractModel):
    version_set: VersionSet


class UpdateServiceRequest(ContractModel):
    name: StrippedNonemptyString | None = None
    description: StrippedNonemptyString | None = None
    is_active: bool | None = None
    agent_id: ObjectId | None = None
    service_hierarchical_state_machine_id: ObjectId | None = None
    tags: Tags | None = None
    keyterms: Keyterms | None = None
