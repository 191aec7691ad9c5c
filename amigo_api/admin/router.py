"""HTTP endpoints of the Admin tag that exist so far: the model list."""

from typing import Annotated

from fastapi import APIRouter, Depends

from amigo_api.admin import schemas as s
from amigo_api.admin.service import ModelRegistry, get_model_registry
from amigo_api.core.auth import Principal, require
from amigo_api.core.openapi import error_responses
from amigo_api.core.ratelimit import rate_limit

router = APIRouter(prefix="/v1/{organization}/admin", tags=["Admin"])
ModelReader = Annotated[Principal, Depends(require("Admin:GetModels"))]


@router.get("/get_models/", operation_id="get-models", summary="Get models", response_model=s.GetModelsResponse,
            dependencies=[rate_limit(20)], responses=error_responses(401, 403, rate_limit=20))
async def get_models(_: ModelReader, registry: Annotated[ModelRegistry, Depends(get_model_registry)]
                     ) -> s.GetModelsResponse:
    """Get a list of LLM models supported by the Amigo platform at this moment, each with the JSON Schema
    of the `params` a version set's `llm_model_preferences` may give it."""
    return s.GetModelsResponse(models=[s.Model.model_validate(m) for m in registry.supported()])
