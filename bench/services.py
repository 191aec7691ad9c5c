"""Throughput of get-services (page of 20) for a caller whose role sees only services tagged `team:a`, against
a bare FastAPI app running the same MongoDB queries (page + filter values) on the same database.

Runs with no arguments on its own embedded database. Last line: RESULT services_ratio=<ours/bare>."""

import os

from harness import run_comparison

from amigo_api.bootstrap import bootstrap
from amigo_api.core.clock import utcnow
from amigo_api.core.db import Clusters
from amigo_api.core.ids import new_id
from amigo_api.core.permissions import EqualCondition, PermissionGrant
from amigo_api.roles.service import insert_role
from amigo_api.services.repository import ServiceRepository
from amigo_api.settings import Settings

SERVICES = 60
PAGE = 20
ORG = "bench"


def _service(i: int) -> dict[str, object]:
    team = "a" if i % 2 == 0 else "b"
    tags = {"team": team, "tier": str(i % 3)}
    user = {"org_id": ORG, "user_id": "bench"}
    latest = {"agent_version_number": None, "service_hierarchical_state_machine_version_number": None,
              "llm_model_preferences": {}}
    return {"_id": new_id(), "name": f"service {i}", "description": "A benchmark service.", "is_active": True,
            "agent_id": new_id(), "service_hierarchical_state_machine_id": new_id(),
            "version_sets": {"edge": latest, "release": latest}, "keyterms": ["blood sugar"],
            "tags": [{"key": k, "value": v} for k, v in tags.items()],
            "tag_strings": [f"{k}:{v}" for k, v in tags.items()], "creator": user, "updated_by": user,
            "created_at": utcnow(), "updated_at": utcnow()}


async def seed(settings: Settings) -> dict[str, str]:
    await bootstrap(settings, ORG, "admin@example.com", "DefaultSuperAdministratorRole")
    clusters = Clusters(settings)
    org = await clusters.org_db(ORG)
    grant = PermissionGrant(permission_name="Service:GetService",
                            conditions={"tags": EqualCondition(value="team:a")})
    await insert_role(org, "TeamAViewer", "Sees team a's services.", "client", [grant])
    await ServiceRepository(org).insert_many([_service(i) for i in range(SERVICES)])
    await clusters.close()
    return await bootstrap(settings, ORG, "viewer@example.com", "TeamAViewer")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    run_comparison("services_ratio", f"get-services, page of {PAGE} of {SERVICES // 2} visible services "
                   f"({SERVICES} in all)", "/v1/{org}/service/", {"limit": PAGE}, seed)
