"""Every domain's service module, imported together so that what domains declare at import time (SQL tables,
"who uses this" checks) is in place in any process: the API and the worker alike."""

from types import ModuleType

from amigo_api.admin import prompt_logs
from amigo_api.admin import service as admin
from amigo_api.organizations import service as organizations
from amigo_api.organizations.agents import service as agents
from amigo_api.services import service as services
from amigo_api.simulations import service as simulations
from amigo_api.tools.repo import service as tool_repo

# Modules with an `ensure_indexes(db)` for their collections.
INDEX_OWNERS: list[ModuleType] = [organizations, agents, services, simulations, tool_repo, admin]
DECLARATIONS: list[ModuleType] = [prompt_logs]
