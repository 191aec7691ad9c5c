"""The four default roles every organization starts with. docs/roles.md documents the same table."""

from amigo_api.core.permissions import PERMISSIONS, PermissionGrant, unconditional

USER_ROLE = "DefaultUserRole"
ADMIN_ROLE = "DefaultAdministratorRole"
AMIGO_ADMIN_ROLE = "DefaultAmigoAdministratorRole"
SUPER_ADMIN_ROLE = "DefaultSuperAdministratorRole"

_USER = [
    "Organization:GetOrganizationDetails", "Service:GetService", "Service:GetVersionSet",
    "Conversation:CreateConversation", "Conversation:FinishConversation", "Conversation:GetConversation",
    "Conversation:GetMessage", "Conversation:GetRecommendedResponses", "Conversation:InteractWithConversation",
]
_ADMIN = _USER + [
    "Admin:GetModels",
    "Conversation:GetInteractionInsights", "Conversation:ModifyConversation",
    "DynamicBehaviorInstruction:CreateDynamicBehaviorInstruction",
    "DynamicBehaviorInstruction:DeleteDynamicBehaviorInstruction",
    "DynamicBehaviorInstruction:GetDynamicBehaviorInstruction",
    "DynamicBehaviorInstruction:UpdateDynamicBehaviorInstruction",
    "Metric:CreateMetric", "Metric:DeleteMetric", "Metric:EvaluateMetric", "Metric:GetMetric",
    "Metric:GetMetricEvaluationResult", "Metric:ModifyMetric",
    "Organization:CreateAgent", "Organization:CreateAgentVersion", "Organization:DeleteAgent",
    "Organization:GetAgent", "Organization:CreateServiceHierarchicalStateMachine",
    "Organization:CreateServiceHierarchicalStateMachineVersion",
    "Organization:DeleteServiceHierarchicalStateMachine", "Organization:GetServiceHierarchicalStateMachine",
    "Organization:GetAPIKey", "Organization:CreateAPIKey", "Organization:DeleteAPIKey",
    "Role:GetRole", "Role:CreateRole", "Role:ModifyRole",
    "Service:CreateService", "Service:CreateVersionSet", "Service:DeleteVersionSet", "Service:UpdateService",
    "Service:UpdateVersionSet",
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
    "User:GetUserInfo", "User:InviteUser", "User:UpdateUserInfo",
    "Webhook:GetWebhookDestination", "Webhook:GetWebhookDeliveries",
]
_AMIGO_ADMIN = _ADMIN + [
    "Organization:ModifyOrganization", "Role:CreateTemporaryPermissionGrant", "Role:GetTemporaryPermissionGrant",
    "User:DeleteUser", "User:GetUserModel",
    "Webhook:CreateWebhookDestination", "Webhook:DeleteWebhookDestination", "Webhook:UpdateWebhookDestination",
]


def default_roles() -> list[tuple[str, str, str, list[PermissionGrant]]]:
    """(name, description, frontend_view, grants), lowest privileges first; each role strictly
    contains the one before it."""
    return [
        (USER_ROLE, "End users: talk to the organization's services.", "client", unconditional(_USER)),
        (ADMIN_ROLE, "Administrators: build and run services, tools and users of the organization.", "admin",
         unconditional(_ADMIN)),
        (AMIGO_ADMIN_ROLE, "Platform staff: administrators plus temporary grants, user deletion and "
         "organization settings.", "admin", unconditional(_AMIGO_ADMIN)),
        (SUPER_ADMIN_ROLE, "Every permission, unconditionally.", "admin", unconditional(PERMISSIONS)),
    ]
