"""Creating an organization: map it to its cluster, then write it with its default roles and super user in
one transaction."""

import uuid
from dataclasses import dataclass

import structlog
from pymongo.asynchronous.client_session import AsyncClientSession

from amigo_api.core.auth import Principal
from amigo_api.core.clock import utcnow
from amigo_api.core.db import Clusters, OrgDb, in_transaction
from amigo_api.core.errors import InvalidRequest, PermissionDenied
from amigo_api.core.ids import is_reserved_org_id, is_valid_org_id
from amigo_api.core.permissions import role_covers
from amigo_api.organizations import schemas as s
from amigo_api.organizations import service as organizations
from amigo_api.organizations.repository import OrganizationDetails, OrganizationDocument
from amigo_api.roles import defaults
from amigo_api.roles import service as roles
from amigo_api.users import service as users
from amigo_api.users.schemas import Preferences

log = structlog.get_logger(__name__)

SUPER_USER_EMAIL = "admin@amigo.ai"
IMAGES = ("logo", "square_logo", "favicon", "signup_page_headshot")


@dataclass(frozen=True)
class ProvisionedOrganization:
    org_id: str
    super_user_id: str
    role_ids: dict[str, str]


async def provision_organization(
    clusters: Clusters, org_id: str, cluster: str, details: OrganizationDetails,
    external_admin: tuple[str, str] | None = None,
) -> ProvisionedOrganization:
    """The map entry is the lock against a concurrent create; it is removed again if the transaction fails.
    The cluster's indexes are the caller's to ensure (the app does at startup, bootstrap before it writes)."""
    if not is_valid_org_id(org_id):
        raise InvalidRequest(f"Organization IDs are 1 to 63 lowercase letters, digits, `-` and `_` (got {org_id!r}).",
                             error_code="invalid_organization_id")
    if is_reserved_org_id(org_id):
        raise InvalidRequest("The specified organization ID is reserved.", error_code="organization_id_reserved")
    await clusters.map_org(org_id, cluster)
    try:
        return await _write_organization(await clusters.org_db(org_id), details, external_admin)
    except BaseException:
        await clusters.unmap_org(org_id)
        raise


async def _write_organization(org: OrgDb, details: OrganizationDetails,
                              external_admin: tuple[str, str] | None) -> ProvisionedOrganization:
    now = utcnow()
    default_roles = roles.default_role_documents(now)
    role_ids = {r["name"]: r["_id"] for r in default_roles}
    top_role_id = role_ids[defaults.SUPER_ADMIN_ROLE]
    super_user = users.new_user_document(
        first_name="Amigo", last_name="Administrator", email=SUPER_USER_EMAIL, role_id=top_role_id,
        preferences=details.get("default_user_preferences") or Preferences().model_dump(), now=now)
    organization = OrganizationDocument(_id=org.org_id, tenant_id=uuid.uuid4().hex, created_at=now, updated_at=now,
                                        **details)

    async def write(session: AsyncClientSession) -> None:
        await organizations.store_organization(org, session, organization)
        await roles.store_roles(org, session, default_roles)
        await users.store_user(org, session, super_user)
        if external_admin is not None:
            home_org_id, user_id = external_admin
            await organizations.add_external_member(org, session, home_org_id, user_id, top_role_id)

    await in_transaction(org, write)
    log.info("organization_created", org_id=org.org_id, cluster=org.cluster)
    return ProvisionedOrganization(org.org_id, super_user["_id"], role_ids)


def _details(org_id: str, body: s.CreateOrganizationRequest) -> OrganizationDetails:
    fields = body.model_dump(exclude=set(IMAGES))
    return OrganizationDetails(
        org_id=org_id, org_name=fields["org_name"], title=fields["title"], main_description=fields["main_description"],
        sub_description=fields["sub_description"], onboarding_instructions=fields["onboarding_instructions"],
        user_dimensions=fields["user_dimensions"], azure_devops_team_name=fields["azure_devops_team_name"],
        default_user_preferences=fields["default_user_preferences"],
        images={name: getattr(body, name) for name in IMAGES})


async def create_organization(clusters: Clusters, caller: Principal, org_id: str, cluster: str,
                              body: s.CreateOrganizationRequest) -> s.CreateOrganizationResponse:
    for permission in ("Organization:CreateOrganization", "Role:CreateRole", "User:InviteUser"):
        caller.require(permission, {"org_id": org_id})
    super_admin = next(g for n, _, _, g in defaults.default_roles() if n == defaults.SUPER_ADMIN_ROLE)
    if not role_covers(caller.role_grants, super_admin):
        raise PermissionDenied("Creating an organization needs privileges equal to "
                               f"{defaults.SUPER_ADMIN_ROLE}.", error_code="insufficient_role")
    await provision_organization(clusters, org_id, cluster, _details(org_id, body),
                                 external_admin=(caller.issuer_org_id, caller.user_id))
    return s.CreateOrganizationResponse(org_id=org_id)
