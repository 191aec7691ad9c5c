"""Contract models for agents, state machines and their versions."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from amigo_api.core.schemas import ContractModel, ObjectId, PositiveCount, StrippedNonemptyString, UserInfo

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]
StateName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]+$")]
ExternalStateName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]+\.[A-Za-z0-9_]+$")]
NextState = StateName | tuple[ExternalStateName, StateName]
AudioFillers = Annotated[list[StrippedNonemptyString], Field(max_length=5)]
FillerDelay = Annotated[float, Field(gt=0, le=10)]


class IdResponse(ContractModel):
    id: str


class DefinitionInstance(ContractModel):
    id: str
    name: str
    deprecated: bool
    latest_version: int | None


# Agents ---------------------------------------------------------------------------------------------

class CreateAgentRequest(ContractModel):
    agent_name: Name = Field(description="The name of the new agent.")


class GetAgentsResponse(ContractModel):
    agents: list[DefinitionInstance]
    has_more: bool
    continuation_token: int | None


class RelationshipToDeveloper(ContractModel):
    ownership: StrippedNonemptyString
    type: StrippedNonemptyString
    conversation_visibility: StrippedNonemptyString
    thought_visibility: StrippedNonemptyString


class Identity(ContractModel):
    name: StrippedNonemptyString
    role: StrippedNonemptyString
    developed_by: StrippedNonemptyString
    default_spoken_language: Annotated[str, StringConstraints(pattern=r"^[a-z]{3}$")] = Field(
        description="The agent's primary language, as an ISO 639-3 code.")
    relationship_to_developer: RelationshipToDeveloper


class VoiceConfig(ContractModel):
    voice_id: StrippedNonemptyString


class VoiceConfigInstance(ContractModel):
    voice_id: str
    stability: float = 0
    similarity_boost: float = 0
    style: float = 0


class CreateAgentVersionRequest(ContractModel):
    initials: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=3)] | None = None
    identity: Identity | None = None
    background: StrippedNonemptyString | None = None
    behaviors: list[StrippedNonemptyString] | None = None
    communication_patterns: list[StrippedNonemptyString] | None = None
    voice_config: VoiceConfig | None = Field(
        None, description="The Cartesia voice config for the agent. If set to null, it is not updated.")


class VersionCreatedResponse(ContractModel):
    id: str
    version: int
    created_at: datetime


class AgentVersionInstance(ContractModel):
    id: str
    org_id: str
    agent_id: str
    version: int
    voice_config: VoiceConfigInstance | None
    initials: str
    identity: Identity
    background: str
    behaviors: list[str]
    communication_patterns: list[str]
    created_at: datetime
    creator: UserInfo


class GetAgentVersionsResponse(ContractModel):
    agent_versions: list[AgentVersionInstance]
    has_more: bool
    continuation_token: int | None


# State machines -------------------------------------------------------------------------------------

class CreateStateMachineRequest(ContractModel):
    state_machine_name: Name = Field(description="The name of the new state machine.")


class GetStateMachinesResponse(ContractModel):
    service_hierarchical_state_machines: list[DefinitionInstance]
    has_more: bool
    continuation_token: int | None


class ToolCallSpec(ContractModel):
    tool_id: ObjectId
    version_constraint: str = Field(description="A PEP 440 version specifier set of the tool, e.g. `>=1.2,<2`.")
    additional_instruction: StrippedNonemptyString
    audio_fillers: AudioFillers
    audio_filler_triggered_after: FillerDelay
    result_persistence: Literal["ephemeral", "persisted-preferred", "persisted"]


class ExitCondition(ContractModel):
    description: StrippedNonemptyString
    next_state: NextState


class ActionState(ContractModel):
    type: Literal["action"]
    name: StateName
    objective: StrippedNonemptyString
    actions: Annotated[list[StrippedNonemptyString], Field(min_length=1)]
    intra_state_navigation_guidelines: list[StrippedNonemptyString]
    action_guidelines: list[StrippedNonemptyString]
    boundary_constraints: list[StrippedNonemptyString]
    exit_conditions: list[ExitCondition]
    action_tool_call_specs: list[ToolCallSpec]
    exit_condition_tool_call_specs: list[ToolCallSpec]
    skip_active_memory_retrieval: bool


class DecisionState(ContractModel):
    type: Literal["decision"]
    name: StateName
    exit_conditions: list[ExitCondition]
    decision_guidelines: list[StrippedNonemptyString]
    objective: StrippedNonemptyString
    tool_call_specs: list[ToolCallSpec]
    audio_fillers: AudioFillers
    audio_filler_triggered_after: FillerDelay


class RecallState(ContractModel):
    type: Literal["recall"]
    name: StateName
    queries: Annotated[list[str], Field(min_length=1)] | None
    requested_information: StrippedNonemptyString | None
    next_state: NextState


class AnnotationState(ContractModel):
    type: Literal["annotation"]
    name: StateName
    inner_thought: StrippedNonemptyString
    next_state: NextState


class ReflectionState(ContractModel):
    type: Literal["reflection"]
    name: StateName
    problem: StrippedNonemptyString
    word_limit: PositiveCount
    next_state: NextState
    tool_call_specs: list[ToolCallSpec]
    audio_fillers: AudioFillers
    audio_filler_triggered_after: FillerDelay


class ToolCallState(ContractModel):
    type: Literal["tool-call"]
    name: StateName
    next_state: NextState
    designated_tool: ToolCallSpec
    designated_tool_call_params_generation_audio_fillers: AudioFillers
    designated_tool_call_params_generation_audio_filler_triggered_after: FillerDelay
    designated_tool_call_objective: StrippedNonemptyString
    designated_tool_call_context: StrippedNonemptyString
    designated_tool_call_guidances: list[StrippedNonemptyString]
    designated_tool_call_validations: list[StrippedNonemptyString]
    tool_call_specs: list[ToolCallSpec]


State = Annotated[ActionState | DecisionState | RecallState | AnnotationState | ReflectionState | ToolCallState,
                  Field(discriminator="type")]


class StateMachineBody(ContractModel):
    description: StrippedNonemptyString
    states: list[State]
    new_user_initial_state: StateName
    returning_user_initial_state: StateName
    terminal_state: StateName
    references: dict[StateName, tuple[ObjectId, PositiveCount]] = Field(
        description="Other state machines this one refers to: reference name -> (state machine ID, version).")
    global_intra_state_navigation_guidelines: list[StrippedNonemptyString]
    global_action_guidelines: list[StrippedNonemptyString]
    global_boundary_constraints: list[StrippedNonemptyString]


class StateMachineVersionInstance(StateMachineBody):
    id: str
    org_id: str
    service_hierarchical_state_machine_id: str
    version: int
    created_at: datetime
    creator: UserInfo


class GetStateMachineVersionsResponse(ContractModel):
    state_machine_versions: list[StateMachineVersionInstance]
    has_more: bool
    continuation_token: int | None
