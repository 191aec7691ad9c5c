"""HTTP endpoint of the model registry (tag Admin)."""

from fastapi import Response

from amigo_api.core.ratelimit import rate_limit
from amigo_api.core.routing import domain_router
from amigo_api.models import schemas as s
from amigo_api.models.auth import ModelReader
from amigo_api.models.dependencies import Registry

router = domain_router("/v1/{organization}/admin", tags=["Admin"])


@router.get("/get_models/", operation_id="get-models", summary="Get models", response_model=s.GetModelsResponse,
            dependencies=[rate_limit(20)])
async def get_models(_: ModelReader, registry: Registry) -> Response:
    """Get a list of LLM models supported by the Amigo platform at this moment, each with the JSON Schema
    of the `params` a version set's `llm_model_preferences` may give it."""
    return Response(registry.listing_json, media_type="application/json")
