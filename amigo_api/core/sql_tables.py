"""The tables the read-only SQL endpoint exposes: each domain declares, next to its repository, which collection
becomes which table and which fields it shows. Only declared fields are ever read, so secrets (API key hashes,
sensitive variables) can never reach a query."""

from collections.abc import Callable
from dataclasses import dataclass

from amigo_api.core.db import Document
from amigo_api.settings import Settings

DATA_VERSIONS = "data_versions"


@dataclass(frozen=True)
class SqlTable:
    name: str
    collection: str
    # column -> document field (dotted paths allowed); nested values become DuckDB structs and lists.
    columns: dict[str, str]
    # Narrows the documents shown, evaluated when a snapshot is taken (prompt logs within their retention).
    scope: Callable[[Settings], Document] | None = None


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
