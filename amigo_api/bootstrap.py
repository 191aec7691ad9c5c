"""Create an organization (if missing), a user and an API key without going through HTTP.

Used by `amigo-api bootstrap` and `amigo-api dev` to get the first credentials of a fresh install."""

from datetime import timedelta
from typing import Any

from amigo_api.core.clock import utcnow
from amigo_api.core.db import Clusters
from amigo_api.organizations import defaults, service
from amigo_api.organizations.repository import APIKeyRepository, RoleRepository, UserRepository
from amigo_api.organizations.schemas import Preferences
from amigo_api.settings import Settings

API_KEY_LIFETIME = timedelta(days=90)


def _details(org_id: str) -> dict[str, Any]:
    return {"org_id": org_id, "org_name": org_id, "title": f"{org_id} on Amigo",
            "main_description": f"The {org_id} organization.", "sub_description": "Self-hosted Amigo API.",
            "onboarding_instructions": [], "user_dimensions": [], "azure_devops_team_name": org_id.lower(),
            "default_user_preferences": Preferences().model_dump(), "images": {}}


async def bootstrap(settings: Settings, org_id: str, email: str, role_name: str,
                    cluster: str | None = None) -> dict[str, str]:
    clusters = Clusters(settings)
    try:
        org = await clusters.org_db(org_id, cluster)
        if not await service.organization_exists(org):
            await service.provision_organization(clusters, org_id, cluster or settings.default_cluster,
                                                 _details(org_id))
            org = await clusters.org_db(org_id)
        await service.ensure_indexes(org.db)
        role = await RoleRepository(org).active_by_name(role_name)
        key_role = await RoleRepository(org).active_by_name(defaults.SUPER_ADMIN_ROLE)
        if role is None or key_role is None:
            raise SystemExit(f"Role {role_name!r} does not exist in organization {org_id!r}.")
        user = await UserRepository(org).find_one({"email": email.lower()})
        if user is None:
            user = await service.create_user(org, first_name="Amigo", last_name="Operator", email=email,
                                             role_id=role["_id"])
        elif user["role_id"] != role["_id"]:
            await UserRepository(org).update_one({"_id": user["_id"]}, {"$set": {"role_id": role["_id"]}})
        # The key carries the top role so that it can sign in the user whatever role was chosen.
        key, secret = await service.issue_api_key(org, name="bootstrap", role_id=key_role["_id"],
                                                  duration=API_KEY_LIFETIME,
                                                  creator={"org_id": org_id, "user_id": user["_id"]})
        return {"org_id": org_id, "user_id": user["_id"], "api_key_id": key["key_id"], "api_key": secret}
    finally:
        await clusters.close()


async def api_key_valid(settings: Settings, org_id: str, key_id: str) -> bool:
    clusters = Clusters(settings)
    try:
        org = await clusters.org_db(org_id)
        key = await APIKeyRepository(org).find_one({"key_id": key_id})
        return key is not None and key["expires_at"] > utcnow() + timedelta(days=1)
    finally:
        await clusters.close()
