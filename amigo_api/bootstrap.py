"""Create an organization (if missing), a user and an API key without going through HTTP.

Used by `amigo-api bootstrap` and `amigo-api dev` to get the first credentials of a fresh install."""

from datetime import timedelta

from amigo_api import domains
from amigo_api.api_keys import service as api_keys
from amigo_api.core.clock import utcnow
from amigo_api.core.db import Clusters
from amigo_api.organizations import service as organizations
from amigo_api.organizations.provisioning import provision_organization
from amigo_api.organizations.repository import OrganizationDetails
from amigo_api.roles import defaults
from amigo_api.roles import service as roles
from amigo_api.settings import Settings
from amigo_api.users import service as users
from amigo_api.users.schemas import Preferences

API_KEY_LIFETIME = timedelta(days=90)


def _details(org_id: str) -> OrganizationDetails:
    return OrganizationDetails(
        org_id=org_id, org_name=org_id, title=f"{org_id} on Amigo", main_description=f"The {org_id} organization.",
        sub_description="Self-hosted Amigo API.", onboarding_instructions=[], user_dimensions=[],
        azure_devops_team_name=org_id.lower(), default_user_preferences=Preferences().model_dump(), images={})


async def bootstrap(settings: Settings, org_id: str, email: str, role_name: str,
                    cluster: str | None = None) -> dict[str, str]:
    clusters = Clusters(settings)
    try:
        org = await clusters.org_db(org_id, cluster)
        await domains.ensure_indexes(org.db)
        if not await organizations.organization_exists(org):
            await provision_organization(clusters, org_id, cluster or settings.default_cluster, _details(org_id))
            org = await clusters.org_db(org_id)
        role = await roles.find_active_role(org, role_name)
        key_role = await roles.find_active_role(org, defaults.SUPER_ADMIN_ROLE)
        if role is None or key_role is None:
            raise SystemExit(f"Role {role_name!r} does not exist in organization {org_id!r}.")
        user = await users.find_user_by_email(org, email)
        if user is None:
            user = await users.create_user(org, first_name="Amigo", last_name="Operator", email=email,
                                           role_id=role["_id"])
        elif user["role_id"] != role["_id"]:
            await users.set_role(org, user["_id"], role["_id"])
        # The key carries the top role so that it can sign in the user whatever role was chosen.
        key, secret = await api_keys.issue_api_key(org, name="bootstrap", role_id=key_role["_id"],
                                                   duration=API_KEY_LIFETIME,
                                                   creator={"org_id": org_id, "user_id": user["_id"]})
        return {"org_id": org_id, "user_id": user["_id"], "api_key_id": key["key_id"], "api_key": secret}
    finally:
        await clusters.close()


async def api_key_valid(settings: Settings, org_id: str, key_id: str) -> bool:
    clusters = Clusters(settings)
    try:
        org = await clusters.org_db(org_id)
        key = await api_keys.find_api_key(org, key_id)
        return key is not None and key["expires_at"] > utcnow() + timedelta(days=1)
    finally:
        await clusters.close()
