"""Permission grants, conditions, the role ordering, and grants turned into MongoDB filters.

A grant `{permission_name, conditions}` allows a request when the name matches and every condition
holds for the request's resource attributes (conditions are ANDed; grants are ORed). An attribute
may hold one value or a list (tags as `key:value` strings): Equals/In hold when a listed value is
among the allowed ones, NotEquals when the value is absent.

Condition values are scalars typed per attribute (strings, or a boolean for `is_active`), and the
attributes a condition may name are those of the permission's resource (`docs/roles.md`). So a stored
grant never carries a MongoDB operator, and the filter a grant becomes (`visibility_filter`) and the
in-memory check (`allows`) read it the same way: a boolean never equals a number or a string."""

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal, Self

import structlog
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, ValidationError, model_validator

from amigo_api.core.db import Document

log = structlog.get_logger(__name__)

MAX_CONDITION_VALUE_LENGTH = 512
MAX_IN_VALUES = 100
ConditionValue = Annotated[str, StringConstraints(strict=True, max_length=MAX_CONDITION_VALUE_LENGTH)] | StrictBool


class EqualCondition(BaseModel):
    """Requires that the attribute value in the request to be equal to a specific value."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["Equals"] = "Equals"
    value: ConditionValue


class InCondition(BaseModel):
    """Requires that the attribute value in the request to be one of the specified values."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["In"] = "In"
    values: list[ConditionValue] = Field(min_length=1, max_length=MAX_IN_VALUES)


class NotEqualCondition(BaseModel):
    """Requires that the attribute value in the request to be not equal to a specific value."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["NotEquals"] = "NotEquals"
    value: ConditionValue


AnyCondition = EqualCondition | InCondition | NotEqualCondition
Condition = Annotated[AnyCondition, Field(discriminator="type")]


PERMISSIONS: tuple[str, ...] = (
    "Admin:GetModels", "Admin:WritePromptLog",
    "Conversation:CreateConversation", "Conversation:FinishConversation", "Conversation:GetConversation",
    "Conversation:GetInteractionInsights", "Conversation:GetMessage", "Conversation:GetRecommendedResponses",
    "Conversation:InteractWithConversation", "Conversation:ModifyConversation",
    "DynamicBehaviorInstruction:CreateDynamicBehaviorInstruction",
    "DynamicBehaviorInstruction:DeleteDynamicBehaviorInstruction",
    "DynamicBehaviorInstruction:GetDynamicBehaviorInstruction",
    "DynamicBehaviorInstruction:UpdateDynamicBehaviorInstruction",
    "LLMAnalytics:CreateEnvironment", "LLMAnalytics:GetDataset", "LLMAnalytics:GetEnvironment",
    "LLMAnalytics:GetEvaluation", "LLMAnalytics:ModifyDataset", "LLMAnalytics:ModifyEvaluation",
    "Metric:CreateMetric", "Metric:DeleteMetric", "Metric:EvaluateMetric", "Metric:GetMetric",
    "Metric:GetMetricEvaluationResult", "Metric:ModifyMetric",
    "Organization:CreateAPIKey", "Organization:CreateAgent", "Organization:CreateAgentVersion",
    "Organization:CreateOrganization", "Organization:CreateServiceHierarchicalStateMachine",
    "Organization:CreateServiceHierarchicalStateMachineVersion", "Organization:DeleteAPIKey",
    "Organization:DeleteAgent", "Organization:DeleteOrganization",
    "Organization:DeleteServiceHierarchicalStateMachine", "Organization:GetAPIKey", "Organization:GetAgent",
    "Organization:GetOrganizationDetails", "Organization:GetServiceHierarchicalStateMachine",
    "Organization:ModifyOrganization",
    "Role:CreateRole", "Role:CreateTemporaryPermissionGrant", "Role:GetRole",
    "Role:GetTemporaryPermissionGrant", "Role:ModifyRole",
    "Service:CreateService", "Service:CreateVersionSet", "Service:DeleteVersionSet", "Service:GetService",
    "Service:GetVersionSet", "Service:UpdateService", "Service:UpdateVersionSet",
    "Simulation:CancelSimulationUnitTestSetRun", "Simulation:CreateSimulationPersona",
    "Simulation:CreateSimulationScenario", "Simulation:CreateSimulationUnitTest",
    "Simulation:CreateSimulationUnitTestSet", "Simulation:CreateSimulationUnitTestSetRun",
    "Simulation:DeleteSimulationPersona", "Simulation:DeleteSimulationScenario",
    "Simulation:DeleteSimulationUnitTest", "Simulation:DeleteSimulationUnitTestSet",
    "Simulation:GetSimulationPersona", "Simulation:GetSimulationScenario", "Simulation:GetSimulationUnitTest",
    "Simulation:GetSimulationUnitTestSet", "Simulation:GetSimulationUnitTestSetRun",
    "Simulation:ModifySimulationPersona", "Simulation:ModifySimulationScenario",
    "Simulation:ModifySimulationUnitTest", "Simulation:ModifySimulationUnitTestSet",
    "Tool:AccessRepo", "Tool:CreateTool", "Tool:DeleteTool", "Tool:InvokeTool", "Tool:ModifyTool",
    "User:DeleteUser", "User:GetUserInfo", "User:GetUserModel", "User:InviteUser", "User:UpdateUserInfo",
    "Webhook:CreateWebhookDestination", "Webhook:DeleteWebhookDestination", "Webhook:GetWebhookDeliveries",
    "Webhook:GetWebhookDestination", "Webhook:UpdateWebhookDestination",
)
KNOWN_PERMISSIONS = frozenset(PERMISSIONS)

# The attributes each resource's permissions can be conditioned on, with the type of their values.
_USER: dict[str, type] = {"user_id": str, "email": str, "role_id": str, "role_name": str}
_ROLE: dict[str, type] = {"role_id": str, "role_name": str}
_TEMPORARY_GRANT: dict[str, type] = {"user_id": str, "permission_name": str, "tags": str}
_API_KEY: dict[str, type] = {"key_id": str, "role_id": str, "role_name": str, "creator_user_id": str}
_AGENT: dict[str, type] = {"agent_id": str, "agent_name": str}
_STATE_MACHINE: dict[str, type] = {"service_hierarchical_state_machine_id": str, "state_machine_name": str}
_SERVICE: dict[str, type] = {"service_id": str, "service_name": str, "tags": str, "is_active": bool}
_VERSION_SET: dict[str, type] = {**_SERVICE, "version_set_name": str}
_UNIT_TEST: dict[str, type] = {"simulation_unit_test_id": str, "service_id": str, "tags": str}
_ORGANIZATION: dict[str, type] = {"org_id": str}
_PROMPT_LOG: dict[str, type] = {"log_key": str}
_TOOL: dict[str, type] = {"tool_id": str, "tool_name": str, "tags": str}


def _resource_attributes(permission: str) -> dict[str, type]:
    resource, _, action = permission.partition(":")
    if resource == "User":
        return _USER
    if resource == "Role":
        return _TEMPORARY_GRANT if action.endswith("TemporaryPermissionGrant") else _ROLE
    if resource == "Service":
        return _VERSION_SET if action.endswith("VersionSet") else _SERVICE
    if resource == "Simulation" and action.endswith("SimulationUnitTest"):
        return _UNIT_TEST
    if resource == "Tool" and action != "AccessRepo":
        return _TOOL
    if resource == "Admin" and action == "WritePromptLog":
        return _PROMPT_LOG
    if resource == "Organization":
        for suffix, attributes in (("APIKey", _API_KEY), ("ServiceHierarchicalStateMachine", _STATE_MACHINE),
                                   ("ServiceHierarchicalStateMachineVersion", _STATE_MACHINE),
                                   ("Agent", _AGENT), ("AgentVersion", _AGENT), ("Organization", _ORGANIZATION)):
            if action.endswith(suffix) and action[:-len(suffix)] in ("Create", "Get", "Delete", "Modify"):
                return attributes
    return {}


ATTRIBUTES: dict[str, dict[str, type]] = {name: _resource_attributes(name) for name in PERMISSIONS}


def _values(condition: AnyCondition) -> list[str | bool]:
    return list(condition.values) if isinstance(condition, InCondition) else [condition.value]


class PermissionGrant(BaseModel):
    model_config = ConfigDict(frozen=True)

    permission_name: str = Field(description="The name of the permission.", max_length=128)
    conditions: dict[str, Condition] = Field(
        description="A dictionary of attribute name to condition that must be met for this grant to be "
                    "applicable. The attributes each permission takes are listed in `docs/roles.md`.",
        max_length=16,
    )

    @model_validator(mode="after")
    def _attributes_of_the_resource(self) -> Self:
        """Unknown permission names are refused by the services (400); conditions are checked here (422)."""
        allowed = ATTRIBUTES.get(self.permission_name)
        if allowed is None:
            return self
        for name, condition in self.conditions.items():
            if name not in allowed:
                known = ", ".join(sorted(allowed)) or "none"
                raise ValueError(f"{self.permission_name} takes no condition on {name!r} (its attributes: {known})")
            expected = allowed[name]
            if any(type(v) is not expected for v in _values(condition)):
                raise ValueError(f"the condition on {name!r} takes {'booleans' if expected is bool else 'strings'}")
        return self


def stored_grants(raw: Iterable[Any]) -> list[PermissionGrant]:
    """Grants read back from the database; one that no longer validates is dropped (fails closed)."""
    grants: list[PermissionGrant] = []
    for item in raw:
        try:
            grants.append(PermissionGrant.model_validate(item))
        except ValidationError:
            log.warning("stored_grant_ignored", permission_name=str(item.get("permission_name"))[:128])
    return grants


def unconditional(names: Iterable[str]) -> list[PermissionGrant]:
    return [PermissionGrant(permission_name=name, conditions={}) for name in names]


def _as_values(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple | set | frozenset) else [value]


def _typed(value: Any) -> tuple[bool, Any]:
    """Compare as BSON does: `True` equals neither `1` nor `"true"`."""
    return isinstance(value, bool), value


def condition_holds(condition: AnyCondition, value: Any) -> bool:
    present = {_typed(v) for v in _as_values(value) if isinstance(v, str | bool | int | float)}
    allowed = {_typed(v) for v in _values(condition)}
    if isinstance(condition, NotEqualCondition):
        return not (present & allowed)
    return bool(present & allowed)


def grant_allows(grant: PermissionGrant, permission: str, attributes: Mapping[str, Any]) -> bool:
    """A condition on an attribute the request does not carry does not hold (fail closed)."""
    if grant.permission_name != permission:
        return False
    return all(name in attributes and condition_holds(cond, attributes[name])
               for name, cond in grant.conditions.items())


def allows(grants: Iterable[PermissionGrant], permission: str, attributes: Mapping[str, Any]) -> bool:
    return any(grant_allows(g, permission, attributes) for g in grants)


def holds_any(grants: Iterable[PermissionGrant], permission: str) -> bool:
    """Whether some grant of this permission exists, whatever its conditions."""
    return any(g.permission_name == permission for g in grants)


MATCH_NOTHING: Document = {"_id": {"$in": []}}


def _condition_clause(field: str, condition: AnyCondition) -> Document:
    """Always an explicit operator over typed scalars, whatever the value."""
    if isinstance(condition, EqualCondition):
        return {field: {"$eq": condition.value}}
    if isinstance(condition, InCondition):
        return {field: {"$in": list(condition.values)}}
    return {field: {"$ne": condition.value}}


def visibility_filter(grants: Iterable[PermissionGrant], permission: str, fields: Mapping[str, str]) -> Document:
    """The documents the grants let the caller see, as a MongoDB filter on the mapped fields.

    A grant conditioned on an attribute with no mapped field cannot be evaluated and shows nothing."""
    alternatives: list[Document] = []
    for grant in grants:
        if grant.permission_name != permission:
            continue
        if not grant.conditions:
            return {}
        if not all(name in fields for name in grant.conditions):
            continue
        clauses = [_condition_clause(fields[n], c) for n, c in grant.conditions.items()]
        alternatives.append(clauses[0] if len(clauses) == 1 else {"$and": clauses})
    if not alternatives:
        return MATCH_NOTHING
    return alternatives[0] if len(alternatives) == 1 else {"$or": alternatives}


# Role ordering --------------------------------------------------------------------------------------

MULTI_VALUED_ATTRIBUTES = frozenset({"tags"})


def _subset(attribute: str, inner: AnyCondition, outer: AnyCondition) -> bool:
    """Whether every resource `inner` lets through, `outer` lets through too. Equals/In allow a finite set
    of values, NotEquals all but some. A resource with several tags can hold an allowed and a refused one,
    so on tags no Equals/In condition fits inside a NotEquals one."""
    inner_values = {_typed(v) for v in _values(inner)}
    outer_values = {_typed(v) for v in _values(outer)}
    inner_negative = isinstance(inner, NotEqualCondition)
    if not isinstance(outer, NotEqualCondition):
        return not inner_negative and inner_values <= outer_values
    if inner_negative:
        return inner_values >= outer_values
    return attribute not in MULTI_VALUED_ATTRIBUTES and not (inner_values & outer_values)


def grant_covers(outer: PermissionGrant, inner: PermissionGrant) -> bool:
    """Everything `inner` allows, `outer` allows too."""
    if outer.permission_name != inner.permission_name:
        return False
    return all(name in inner.conditions and _subset(name, inner.conditions[name], cond)
               for name, cond in outer.conditions.items())


def role_covers(outer: Iterable[PermissionGrant], inner: Iterable[PermissionGrant]) -> bool:
    outer_list = list(outer)
    return all(any(grant_covers(o, i) for o in outer_list) for i in inner)


def is_top_role(grants: Iterable[PermissionGrant]) -> bool:
    """A role holding every known permission unconditionally; nothing can rank above it."""
    names = {g.permission_name for g in grants if not g.conditions}
    return names >= KNOWN_PERMISSIONS


def outranks(caller: list[PermissionGrant], target: list[PermissionGrant]) -> bool:
    """"Greater privileges than role R": the caller covers R and R does not cover the caller.

    The top role (every permission, no conditions) also outranks itself: otherwise no one could invite
    or make keys for a super administrator."""
    if not role_covers(caller, target):
        return False
    return not role_covers(target, caller) or is_top_role(caller)
