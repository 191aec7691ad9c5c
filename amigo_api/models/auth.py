"""Who may call get-models."""

from typing import Annotated

from fastapi import Depends

from amigo_api.core.auth import Principal, require

ModelReader = Annotated[Principal, Depends(require("Admin:GetModels"))]
