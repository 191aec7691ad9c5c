"""The app's model registry, for endpoints that list models or check version sets' preferences against it."""

from typing import Annotated

from fastapi import Depends

from amigo_api.core.state import from_app_state
from amigo_api.models.service import ModelRegistry

Registry = Annotated[ModelRegistry, Depends(from_app_state("model_registry", ModelRegistry))]
