"""The tables the read-only SQL endpoint exposes: each domain declares, next to its repository, which collection
becomes which table and which fields it shows, with each column's type. Only declared fields are ever read, so
secrets (API key hashes, sensitive variables) can never reach a query.

A column's type is declared, never inferred from the data, so a query that works today works whatever is
stored tomorrow: a value that does not fit its column reads as null, and schemaless fields (event properties,
tool inputs, metadata) are JSON columns, read with DuckDB's JSON functions."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from amigo_api.core.db import Document
from amigo_api.settings import Settings

DATA_VERSIONS = "data_versions"


class SqlType(StrEnum):
    TEXT = "VARCHAR"
    INTEGER = "BIGINT"
    FLOAT = "DOUBLE"
    BOOLEAN = "BOOLEAN"
    TIMESTAMP = "TIMESTAMP WITH TIME ZONE"  # shown in UTC
    TEXT_LIST = "VARCHAR[]"
    JSON = "JSON"  # any value, as JSON text


@dataclass(frozen=True)
class Struct:
    """An object of fixed fields (a version number, a creator); fields it does not name are not shown."""

    fields: Mapping[str, SqlType]


ColumnType = SqlType | Struct


@dataclass(frozen=True)
class Column:
    type: ColumnType
    path: str  # the document field, dotted paths allowed


@dataclass(frozen=True)
class SqlTable:
    name: str
    collection: str
    # column -> its type (the field of the same name) or a Column (another field).
    columns: Mapping[str, ColumnType | Column]
    # Narrows the documents shown, evaluated when a snapshot is taken (prompt logs within their retention).
    scope: Callable[[Settings], Document] | None = None

    def fields(self) -> list[tuple[str, Column]]:
        return [(name, c if isinstance(c, Column) else Column(c, name)) for name, c in self.columns.items()]


TEXT, INTEGER, FLOAT, BOOLEAN = SqlType.TEXT, SqlType.INTEGER, SqlType.FLOAT, SqlType.BOOLEAN
TIMESTAMP, TEXT_LIST, JSON = SqlType.TIMESTAMP, SqlType.TEXT_LIST, SqlType.JSON
# `creator` and `updated_by` of the classic domains, and of tool versions (the contract's ToolVersion UserInfo).
USER_INFO = Struct({"org_id": TEXT, "user_id": TEXT})
TOOL_USER_INFO = Struct({"user_id": TEXT, "user_org_id": TEXT})
VERSION_NUMBER = Struct({"major": INTEGER, "minor": INTEGER, "patch": INTEGER})


_tables: dict[str, SqlTable] = {}
_collections: set[str] = set()  # looked up on every repository write


def register_table(table: SqlTable) -> None:
    _tables[table.name] = table
    _collections.add(table.collection)


def tables() -> list[SqlTable]:
    return sorted(_tables.values(), key=lambda t: t.name)


def is_exposed(collection: str) -> bool:
    return collection in _collections


def data_version_id(org_id: str, collection: str) -> str:
    """The `data_versions` document counting writes to one organization's collection; a SQL snapshot of the
    collection is current while the count is unchanged."""
    return f"{org_id}/{collection}"
