"""Create an organization (if missing), a user and an API key without going through HTTP.

Used by `amigo-api bootstrap` and `amigo-api dev` to get the first credentials of a fresh install, and by the API
at start-up for `AMIGO_INIT_ORG` (`initial_credentials`)."""

import json
import os
from datetime import timedelta
from pathlib import Path

import structlog
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from amigo_api import domains
from amigo_api.api_keys import service as api_keys
from amigo_api.core.clock import utcnow
from amigo_api.core.db import Clusters, Document
from amigo_api.organizations import service as organizations
from amigo_api.organizations.provisioning import provision_organization
from amigo_api.organizations.repository import OrganizationDetails
from amigo_api.roles import defaults
from amigo_api.roles import service as roles
from amigo_api.settings import Settings
from amigo_api.users import service as users
from amigo_api.users.schemas import Preferences

API_KEY_LIFETIME = timedelta(days=90)
INIT_CLAIMS = "init_claims"
log = structlog.get_logger(__name__)


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


async def initial_credentials(settings: Settings, infra: AsyncDatabase[Document]) -> Path | None:
    """`AMIGO_INIT_ORG`'s first credentials, made once whatever the number of API processes starting together:
    the process that claims the organization in the infra database first makes them (when the organization does
    not exist yet) and writes them to `AMIGO_INIT_CREDENTIALS_FILE`, mode 0600. The key is never logged."""
    org_id = settings.init_org
    if not org_id:
        return None
    path = _credentials_path(settings)
    try:
        await infra[INIT_CLAIMS].insert_one({"_id": org_id, "claimed_at": utcnow(), "file": str(path)})
    except DuplicateKeyError:
        log.info("initial_credentials_made_before", org_id=org_id, file=str(path))
        return None
    clusters = Clusters(settings)
    try:
        exists = await organizations.organization_exists(await clusters.org_db(org_id))
    finally:
        await clusters.close()
    if exists:
        log.info("initial_organization_exists", org_id=org_id, hint="no credentials were made for it")
        return None
    email = settings.init_user_email or f"operator@{org_id}.example.com"
    credentials = await bootstrap(settings, org_id, email, settings.init_role)
    _write_private(path, json.dumps(credentials, indent=2))
    log.info("initial_credentials_written", org_id=org_id, user_id=credentials["user_id"], file=str(path))
    return path


def _credentials_path(settings: Settings) -> Path:
    return Path(settings.init_credentials_file).resolve()


def _write_private(path: Path, content: str) -> None:
    """Readable by this user only, and whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    handle = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(handle, "w") as file:
        file.write(content)
    os.replace(staging, path)


async def api_key_valid(settings: Settings, org_id: str, key_id: str) -> bool:
    clusters = Clusters(settings)
    try:
        org = await clusters.org_db(org_id)
        key = await api_keys.find_api_key(org, key_id)
        return key is not None and key["expires_at"] > utcnow() + timedelta(days=1)
    finally:
        await clusters.close()
