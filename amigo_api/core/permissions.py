"""Permission grants, conditions, the role ordering, and grants turned into MongoDB filters.

A grant `{permission_name, conditions}` allows a request when the name matches and every condition
holds for the request's resource attributes (conditions are ANDed; grants are ORed). An attribute
may hold one value or a list (tags as `key:value` strings): Equals/In hold when a listed value is
among the allowed ones, NotEquals when the value is absent."""

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from amigo_api.core.db import Document


class EqualCondition(BaseModel):
    """Requires that the attribute value in the request to be equal to a specific value."""

    type: Literal["Equals"] = "Equals"
    value: Any


class InCondition(BaseModel):
    """Requires that the attribute value in the request to be one of the specified values."""

    type: Literal["In"] = "In"
    values: list[Any]


class NotEqualCondition(BaseModel):
    """Requires that the attribute value in the request to be not equal to a specific value."""

    type: Literal["NotEquals"] = "NotEquals"
    value: Any


Condition = Annotated[EqualCondition | InCondition | NotEqualCondition, Field(discriminator="type")]


class PermissionGrant(BaseModel):
    model_config = ConfigDict(frozen=True)

    permission_name: str = Field(description="The name of the permission.")
    conditions: dict[str, Condition] = Field(
        description="A dictionary of attribute name to condition that must be met for this grant to be "
                    "applicable."
    )


PERMISSIONS: tuple[str, ...] = (
    "Admin:GetModels", "Admin:WritePromptLog",
    "Conversation:CreateConversation", "Conversation:FinishConversation", "Conversation:GetConversation",
    "Conversation:GetInteractionInsights", "Conversation:GetMessage", "Conversation:GetRecommendedResponses",
    "Conversation:InteractWithConversation", "Conversation:ModifyConversation",
    "DynamicBehaviorInstruction:CreateDynamicBehaviorInstruction",
    "DynamicBehaviorInstruction:DeleteDynamicBehaviorInstruction",
    "DynamicBehaviorInstruction:GetDynamicBehaviorInstruction",
    "DynamicBehaviorInstruction:UpdateDynamicBehaviorInstruction",
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


def unconditional(names: Iterable[str]) -> list[PermissionGrant]:
    return [PermissionGrant(permission_name=name, conditions={}) for name in names]


def _as_values(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple | set | frozenset) else [value]


def condition_holds(condition: EqualCondition | InCondition | NotEqualCondition, value: Any) -> bool:
    present = _as_values(value)
    if isinstance(condition, EqualCondition):
        return condition.value in present
    if isinstance(condition, InCondition):
        return any(v in condition.values for v in present)
    return condition.value not in present


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


def _condition_clause(field: str, condition: EqualCondition | InCondition | NotEqualCondition) -> Document:
    if isinstance(condition, EqualCondition):
        return {field: condition.value}
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

def _allowed_set(cond: EqualCondition | InCondition | NotEqualCondition) -> tuple[bool, set[Any]]:
    """(is_complement, values): Equals/In allow a finite set, NotEquals everything but one value."""
    if isinstance(cond, EqualCondition):
        return False, {_hashable(cond.value)}
    if isinstance(cond, InCondition):
        return False, {_hashable(v) for v in cond.values}
    return True, {_hashable(cond.value)}


def _hashable(value: Any) -> Any:
    return repr(value) if isinstance(value, dict | list) else value


def _subset(inner: EqualCondition | InCondition | NotEqualCondition,
            outer: EqualCondition | InCondition | NotEqualCondition) -> bool:
    inner_compl, inner_vals = _allowed_set(inner)
    outer_compl, outer_vals = _allowed_set(outer)
    if not outer_compl:
        return not inner_compl and inner_vals <= outer_vals
    if inner_compl:
        return inner_vals >= outer_vals
    return not (inner_vals & outer_vals)


def grant_covers(outer: PermissionGrant, inner: PermissionGrant) -> bool:
    """Everything `inner` allows, `outer` allows too."""
    if outer.permission_name != inner.permission_name:
        return False
    return all(name in inner.conditions and _subset(inner.conditions[name], cond)
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
