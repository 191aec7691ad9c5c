"""Request and response models of the SQL endpoints."""

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from amigo_api.core.schemas import ContractModel


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
