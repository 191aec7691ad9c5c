"""Who may run SQL: a caller with greater privileges than DefaultAdministratorRole, where SQL is enabled."""

from typing import Annotated

from fastapi import Depends

from amigo_api.core.auth import CurrentPrincipal, Principal
from amigo_api.core.db import OrgDbDep
from amigo_api.core.errors import InvalidRequest
from amigo_api.core.state import AppSettings
from amigo_api.roles.defaults import ADMIN_ROLE
from amigo_api.roles.service import require_outranks_named_role


async def authorize_sql(org: OrgDbDep, principal: CurrentPrincipal, settings: AppSettings) -> Principal:
    if not settings.sql_enabled:
        raise InvalidRequest("This endpoint is not supported in the current environment.",
                             error_code="sql_not_supported")
    await require_outranks_named_role(org, principal, ADMIN_ROLE, "Running SQL")
    return principal


SqlQuerier = Annotated[Principal, Depends(authorize_sql)]
