"""Contract models of the Admin tag."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints

from amigo_api.core.schemas import ContractModel, has_control_characters


class Model(ContractModel):
    model_config = ConfigDict(extra="allow")

    name: str
    params_model_schema: dict[str, Any]


class GetModelsResponse(ContractModel):
    model_config = ConfigDict(extra="allow")

    models: list[Model]


# Prompt logs -----------------------------------------------------------------------------------------

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


# SQL -------------------------------------------------------------------------------------------------

class SubmitSqlQueryRequest(ContractModel):
    sql_query: Annotated[str, StringConstraints(min_length=1, max_length=100_000)] = Field(
        description="One read-only SELECT (WITH and set operations allowed).")
    async_query: bool = Field(description="Run in the background and return a signed URL for the CSV result.")


class Column(ContractModel):
    name: str = Field(description="The name of the column.")
    type: str = Field(description="The data type of the column.")


class SqlQueryResult(ContractModel):
    execution_time_ms: int
    result: list[list[Any]]
    truncated: bool
    columns: list[Column]


class AsyncSqlQueryAccepted(ContractModel):
    query_id: str
    status: Literal["running", "succeeded", "failed"]
    result_url: str = Field(description="A signed URL that expires: 202 while running, then the CSV (or the error).")


class SqlTableSchema(ContractModel):
    name: str
    columns: list[Column]


class SqlSchemaResponse(ContractModel):
    tables: list[SqlTableSchema]
