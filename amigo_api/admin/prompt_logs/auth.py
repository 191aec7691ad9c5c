"""Who may call the prompt log endpoints."""

from typing import Annotated

from fastapi import Depends

from amigo_api.core.auth import CurrentPrincipal, Principal, require

PromptLogWriter = Annotated[Principal, Depends(require("Admin:WritePromptLog"))]
# Any member may download: each log names the permissions its reader must hold, and a log the caller lacks
# them for arrives as `{log_key}-error` with the reason.
PromptLogReader = CurrentPrincipal
