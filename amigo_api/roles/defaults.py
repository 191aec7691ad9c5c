"""The four default roles every organization starts with. docs/roles.md documents the same table."""

from amigo_api.core.permissions import PERMISSIONS, PermissionGrant, unconditional
from amigo_api.roles.schemas import FrontendView

USER_ROLE = "DefaultUserRole"
ADMIN_ROLE = "DefaultAdministratorRole"
AMIGO_ADMIN_ROLE = "DefaultAmigoAdministratorRole"
SUPER_ADMIN_ROLE = "DefaultSuperAdministratorRole"

_USER = [
    "Organization:GetOrganizationDetails", "Service:GetService", "Service:GetVersionSet",
    "Conversation:CreateConversation", "Conversation:FinishConversation", "Conversation:GetConversation",
    "Conversation:GetMessage", "Conversation:GetRecommendedResponses", "Conversation:InteractWithConversation",
]


def _all_of(*resources: str) -> list[str]:
    return [name for name in PERMISSIONS if name.split(":", 1)[0] in resources]


_ADMIN = _USER + _all_of("Metric", "DynamicBehaviorInstruction", "Simulation", "Tool", "LLMAnalytics") + [
    "Admin:GetModels", "Admin:WritePromptLog",
    "Conversation:GetInteractionInsights", "Conversation:ModifyConversation",
    "Organization:CreateAgent", "Organization:CreateAgentVersion", "Organization:DeleteAgent",
    "Organization:GetAgent", "Organization:CreateServiceHierarchicalStateMachine",
    "Organization:CreateServiceHierarchicalStateMachineVersion",
    "Organization:DeleteServiceHierarchicalStateMachine", "Organization:GetServiceHierarchicalStateMachine",
    "Organization:GetAPIKey", "Organization:CreateAPIKey", "Organization:DeleteAPIKey",
    "Role:GetRole", "Role:CreateRole", "Role:ModifyRole",
    "Service:CreateService", "Service:CreateVersionSet", "Service:DeleteVersionSet", "Service:UpdateService",
    "Service:UpdateVersionSet",
    "User:GetUserInfo", "User:InviteUser", "User:UpdateUserInfo",
    "Webhook:GetWebhookDestination", "Webhook:GetWebhookDeliveries",
]
_AMIGO_ADMIN = _ADMIN + [
    "Organization:ModifyOrganization", "Role:CreateTemporaryPermissionGrant", "Role:GetTemporaryPermissionGrant",
    "User:DeleteUser", "User:GetUserModel",
    "Webhook:CreateWebhookDestination", "Webhook:DeleteWebhookDestination", "Webhook:UpdateWebhookDestination",
]


def default_roles() -> list[tuple[str, str, FrontendView, list[PermissionGrant]]]:
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


# Permissions added after organizations already existed: on start, the default roles that lack them gain them
# (`roles.service.grant_added_permissions`). Custom roles are never changed.
ADDED_PERMISSIONS = tuple(name for name in PERMISSIONS if name.startswith("LLMAnalytics:"))


def added_permissions_by_role() -> dict[str, list[str]]:
    """For each default role, the added permissions it holds."""
    return {name: [g.permission_name for g in grants if g.permission_name in ADDED_PERMISSIONS]
            for name, _, _, grants in default_roles()}
