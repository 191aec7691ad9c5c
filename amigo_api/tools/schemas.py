"""Request and response models of the tool registry endpoints, as the contract names them."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from amigo_api.core.schemas import ContractModel, StrippedNonemptyString, Tag, Tags, UserInfo

# The longest function name LLM providers accept; a longer name is refused with 400, as the contract says.
MAX_TOOL_NAME = 64
MAX_DESCRIPTION = 10_000
MAX_ENVVARS = 100
MAX_ENVVAR_VALUE = 64 * 1024
ToolName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, pattern=r"^[a-z0-9_]+$")]
Description = Annotated[StrippedNonemptyString, StringConstraints(max_length=MAX_DESCRIPTION)]
# Anchored, unlike the contract's `[A-Z_]+`: a name an environment can carry.
EnvvarName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128,
                                              pattern=r"^[A-Z_][A-Z0-9_]*$")]
EnvvarValue = Annotated[str, StringConstraints(max_length=MAX_ENVVAR_VALUE)]
ProjectPath = Annotated[str, StringConstraints(pattern=r"^[-\w\d_/]+$", max_length=1024)]


class CreateToolRequest(ContractModel):
    name: ToolName = Field(description="The name of the tool. It must be unique among all non-deprecated tools "
                                       f"in the organization; at most {MAX_TOOL_NAME} characters.")
    description: Description = Field(description="A description of the tool.")
    tags: Tags = Field(description="The tags of this tool.")


class CreateToolResponse(ContractModel):
    id: str = Field(description="The ID of the tool.")


class ModifyToolRequest(ContractModel):
    description: Description | None = Field(None, description="A description of this tool. Only updates if "
                                                              "not-null.")
    tags: Tags | None = Field(None, description="The tags of this tool. Only updates if not-null.")


class ToolInstance(ContractModel):
    id: str
    org_id: str
    created_at: datetime
    updated_at: datetime
    name: str
    description: str
    deprecated: bool
    envvars: list[str] = Field(description="The names of the tool's environment variables (values are never "
                                           "shown).")
    secret_envvars: list[str] = Field(description="The names of the tool's secret environment variables.")
    tags: list[Tag]
    creator: UserInfo
    updated_by: UserInfo


class ToolFilterValues(ContractModel):
    tags: list[str] = Field(description="A list of tags of the tools.")


class GetToolsResponse(ContractModel):
    tools: list[ToolInstance]
    has_more: bool
    continuation_token: Any | None
    filter_values: ToolFilterValues | None


class InsertRequest(ContractModel):
    name: EnvvarName
    value: EnvvarValue
    is_secret: bool


class UpdateRequest(ContractModel):
    name: EnvvarName
    value: EnvvarValue


class DeleteRequest(ContractModel):
    name: EnvvarName


class ModifyToolEnvvarsRequest(ContractModel):
    inserts: Annotated[list[InsertRequest], Field(max_length=MAX_ENVVARS)] = Field(default_factory=list)
    updates: Annotated[list[UpdateRequest], Field(max_length=MAX_ENVVARS)] = Field(default_factory=list)
    deletes: Annotated[list[DeleteRequest], Field(max_length=MAX_ENVVARS)] = Field(default_factory=list)


class Version(ContractModel):
    major: int
    minor: int
    patch: int


class ToolVersionUserInfo(ContractModel):
    user_id: str = Field(description="The ID of the user.")
    user_org_id: str = Field(description="The ID of the user's organization.")


class ToolVersionInstance(ContractModel):
    id: str
    org_id: str
    created_at: datetime
    updated_at: datetime
    tool_id: str
    version: Version
    required_envvars: list[str]
    required_secret_envvars: list[str]
    input_schema: dict[str, Any]
    tool_commit_hash: str
    amigo_scaffold_commit_hash: str
    project_directory: str
    lambda_version: int
    creator: ToolVersionUserInfo
    updated_by: ToolVersionUserInfo
    deprecated: bool


class ToolVersionFilterValues(ContractModel):
    creators: list[ToolVersionUserInfo] = Field(description="The users who created the tool's versions.")


class GetToolVersionsResponse(ContractModel):
    tool_versions: list[ToolVersionInstance]
    has_more: bool
    continuation_token: Any | None
    filter_values: ToolVersionFilterValues | None


class PublishToolVersionRequest(ContractModel):
    project_path: ProjectPath = Field(
        description="The directory in the tools repo that contains the `pyproject.toml` file corresponding to the "
                    "tool version to publish.")
    bump_type: Literal["major", "minor", "patch"] = Field(
        description="The type of bump to apply to the version. For initial version of the tool, use `major`.")


class PublishToolVersionResponse(ContractModel):
    new_version: str = Field(description="The new version of the tool.")


# Running tools and their history ----------------------------------------------------------------------

MAX_USER_VARIABLES = 20
UserVariableName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128,
                                                    pattern=r"^[a-z_][a-z0-9_]+$")]
UserVariables = Annotated[dict[UserVariableName, EnvvarValue], Field(max_length=MAX_USER_VARIABLES)]


class Input(ContractModel):
    input_parameters: dict[str, Any] = Field(description="The input parameters for the tool invocation.")
    invocation_mode: Literal["regular", "conversation-simulation"] = Field(description="The mode of invocation.")
    nonsensitive_user_variables: UserVariables = Field(
        description="The nonsensitive user variables to provide to the tool during invocation.")
    sensitive_user_variables: UserVariables = Field(
        description="The sensitive user variables to provide to the tool during invocation; never stored.")


Inputs = Annotated[list[Input], Field(min_length=1, max_length=10, description="The list of inputs for the tool "
                                                                               "invocation.")]


class SucceededInvocationResult(ContractModel):
    succeeded: Literal[True] = True
    output: str = Field(description="The output of the tool invocation.")
    duration_ms: int = Field(description="The duration of the tool invocation in milliseconds.")


class FailedInvocationResult(ContractModel):
    succeeded: Literal[False] = False
    exception_message: str
    exception_type: str
    exception_stack_trace: list[str]
    duration_ms: int


InvocationResult = Annotated[SucceededInvocationResult | FailedInvocationResult, Field(discriminator="succeeded")]


class TestToolRequest(ContractModel):
    inputs: Inputs
    commit_branch: str = Field(min_length=1, max_length=255, description="The branch in the tools repo whose tip "
                                                                         "will be tested.")
    project_path: ProjectPath = Field(description="The directory in the tools repo that contains the "
                                                  "`pyproject.toml` file of the tool to test.")
    required_envvars: Annotated[dict[EnvvarName, EnvvarValue], Field(max_length=MAX_ENVVARS)] = Field(
        description="The environment variables required for the tool to run.")
    required_secret_envvars: Annotated[dict[EnvvarName, EnvvarValue], Field(max_length=MAX_ENVVARS)] = Field(
        description="The secret environment variables required for the tool to run.")


class InvocationResultsResponse(ContractModel):
    invocation_results: list[InvocationResult]


class InvokeToolVersionRequest(ContractModel):
    inputs: Inputs


class SucceededInvocationStatus(ContractModel):
    succeeded: Literal[True] = True
    output: str


class FailedInvocationStatus(ContractModel):
    succeeded: Literal[False] = False
    exception_message: str
    exception_type: str
    exception_stack_trace: list[str]


class RegularConversationInvocationSource(ContractModel):
    type: Literal["regular-conversation"] = "regular-conversation"
    user_id: str
    conversation_id: str | None
    interaction_id: str | None
    invocation_metadata: dict[str, Any]


class SimulationConversationInvocationSource(ContractModel):
    type: Literal["simulation-conversation"] = "simulation-conversation"
    simulation_unit_test_set_run_id: str | None
    unit_test_id: str | None
    run_index: int | None
    invocation_metadata: dict[str, Any]


class ApiInvocationSource(ContractModel):
    """Our extension: a direct call of invoke-tool-version, by this user."""

    type: Literal["api-invocation"] = "api-invocation"
    user_id: str


class ToolInvocationInstance(ContractModel):
    id: str
    org_id: str
    created_at: datetime
    updated_at: datetime
    invocation_status: Annotated[SucceededInvocationStatus | FailedInvocationStatus, Field(discriminator="succeeded")]
    invocation_source: Annotated[RegularConversationInvocationSource | SimulationConversationInvocationSource
                                 | ApiInvocationSource, Field(discriminator="type")]
    duration_ms: int
    tool_id: str
    tool_version: Version
    inputs: dict[str, Any]


class GetToolInvocationsResponse(ContractModel):
    tool_invocations: list[ToolInvocationInstance]
    has_more: bool
    continuation_token: Any | None


class SearchToolInvocationsResponse(ContractModel):
    tool_invocations: list[ToolInvocationInstance]
