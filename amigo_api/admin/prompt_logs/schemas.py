"""Request and response models of the prompt log endpoints."""

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from amigo_api.core.schemas import ContractModel, has_control_characters


def _check_log_key(key: str) -> str:
    """Log keys become zip entry names (`{log_key}-system`), so none may climb out of its folder."""
    if key.startswith("/") or "\\" in key:
        raise ValueError("a log key is relative: no leading `/` and no backslashes")
    if has_control_characters(key):
        raise ValueError("a log key may not contain control characters")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise ValueError("a log key may not contain `..`, `.` or empty path segments")
    return key


LogKey = Annotated[str, StringConstraints(min_length=1, max_length=512), AfterValidator(_check_log_key)]
AttributeValue = str | int | float | bool | None | list[str | int | float | bool | None]


class RequiredPermission(ContractModel):
    permission_name: str = Field(description="A permission the reader must hold, e.g. `Service:GetService`.")
    attributes: dict[str, AttributeValue] = Field(
        default_factory=dict, description="The resource attributes the permission is checked against.")


class WritePromptLogRequest(ContractModel):
    log_key: LogKey
    system_prompt: str
    history_prompts: list[str]
    required_permissions: list[RequiredPermission] = Field(default_factory=list)


class WritePromptLogResponse(ContractModel):
    log_key: str
    created_at: datetime
