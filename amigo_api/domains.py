"""Every domain's service module, imported together so that what domains declare at import time (SQL tables,
role holders, user cleanups, "who uses this" checks) is in place in any process: the API and the worker alike."""

from types import ModuleType
from typing import Any

from amigo_api.admin.prompt_logs import service as prompt_logs
from amigo_api.admin.sql import service as sql
from amigo_api.agents import service as agents
from amigo_api.api_keys import service as api_keys
from amigo_api.llm_analytics import capture as llm_capture
from amigo_api.llm_analytics import datasets as llm_datasets
from amigo_api.llm_analytics import evaluations as llm_evaluations
from amigo_api.llm_analytics import service as llm_analytics
from amigo_api.organizations import service as organizations
from amigo_api.roles import service as roles
from amigo_api.roles import temporary_grants
from amigo_api.services import service as services
from amigo_api.simulations import service as simulations
from amigo_api.tools import service as tools
from amigo_api.tools import versions as tool_versions
from amigo_api.tools.repo import service as tool_repo
from amigo_api.users import service as users

# Modules with an `ensure_indexes(db)` for their collections.
INDEX_OWNERS: list[ModuleType] = [organizations, roles, users, api_keys, agents, services, simulations, tool_repo,
                                  tools, prompt_logs, sql, llm_analytics]
# Modules imported only for what they declare.
DECLARATIONS: list[ModuleType] = [temporary_grants, tool_versions, llm_capture, llm_datasets, llm_evaluations]


async def ensure_indexes(db: Any) -> None:
    for owner in INDEX_OWNERS:
        await owner.ensure_indexes(db)
