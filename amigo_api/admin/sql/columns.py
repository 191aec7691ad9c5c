"""Documents to Arrow by the declared column types: every value is converted to its column's type, and one
that does not fit reads as null, so a table's types never depend on what is stored."""

import base64
import datetime as dt
import json
import math
import uuid
from collections.abc import Callable
from typing import Any

import duckdb
import pyarrow as pa
from bson import Decimal128, ObjectId

from amigo_api.core.db import Document
from amigo_api.core.sql_tables import ColumnType, SqlTable, SqlType

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
Convert = Callable[[Any], Any]


def _text(value: Any) -> str | None:
    if type(value) is str:
        return value
    return str(value) if isinstance(value, ObjectId | uuid.UUID) else None


def _integer(value: Any) -> int | None:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) and \
        INT64_MIN <= value <= INT64_MAX else None


def _float(value: Any) -> float | None:
    if isinstance(value, Decimal128):
        return float(value.to_decimal())
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _boolean(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _timestamp(value: Any) -> dt.datetime | None:
    if not isinstance(value, dt.datetime):
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _text_list(value: Any) -> list[str | None] | None:
    return [_text(v) for v in value] if isinstance(value, list) else None


def _bson_json(value: Any) -> Any:
    """What json.dumps cannot write by itself, as JSON values."""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal128):
        return _finite(float(value.to_decimal()))
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return str(value)  # ObjectId, UUID, and any other BSON type


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _json(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return json.dumps(value, default=_bson_json, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    except ValueError:  # NaN or infinity, which JSON cannot hold
        return json.dumps(_finite(value), default=_bson_json, ensure_ascii=False, separators=(",", ":"))


_CONVERT: dict[SqlType, Convert] = {
    SqlType.TEXT: _text, SqlType.INTEGER: _integer, SqlType.FLOAT: _float, SqlType.BOOLEAN: _boolean,
    SqlType.TIMESTAMP: _timestamp, SqlType.TEXT_LIST: _text_list, SqlType.JSON: _json}
_ARROW: dict[SqlType, pa.DataType] = {
    SqlType.TEXT: pa.string(), SqlType.INTEGER: pa.int64(), SqlType.FLOAT: pa.float64(),
    SqlType.BOOLEAN: pa.bool_(), SqlType.TIMESTAMP: pa.timestamp("us", tz="UTC"),
    SqlType.TEXT_LIST: pa.list_(pa.string()), SqlType.JSON: pa.json_()}


def _converter(kind: ColumnType) -> Convert:
    if isinstance(kind, SqlType):
        return _CONVERT[kind]
    fields = [(name, _CONVERT[field]) for name, field in kind.fields.items()]

    def struct(value: Any) -> dict[str, Any] | None:
        return {name: convert(value.get(name)) for name, convert in fields} if isinstance(value, dict) else None

    return struct


def _arrow_type(kind: ColumnType) -> pa.DataType:
    if isinstance(kind, SqlType):
        return _ARROW[kind]
    return pa.struct([(name, _ARROW[field]) for name, field in kind.fields.items()])


def declared_schema(table: SqlTable) -> pa.Schema:
    return pa.schema([(name, _arrow_type(column.type)) for name, column in table.fields()])


def _reader(path: str) -> Callable[[Document], Any]:
    if "." not in path:
        return lambda doc: doc.get(path)
    parts = path.split(".")

    def walk(doc: Any) -> Any:
        for part in parts:
            doc = doc.get(part) if isinstance(doc, dict) else None
        return doc

    return walk


def collect(table: SqlTable, docs: list[Document], columns: dict[str, list[Any]]) -> None:
    for name, column in table.fields():
        read, convert = _reader(column.path), _converter(column.type)
        columns[name].extend(convert(read(doc)) for doc in docs)


def _column(values: list[Any], kind: pa.DataType) -> pa.Array:
    if isinstance(kind, pa.ExtensionType):
        return pa.ExtensionArray.from_storage(kind, pa.array(values, type=kind.storage_type))
    return pa.array(values, type=kind)


def arrow_table(table: SqlTable, columns: dict[str, list[Any]]) -> pa.Table:
    schema = declared_schema(table)
    return pa.table([_column(columns[field.name], field.type) for field in schema], schema=schema)


def declared_columns(declared: list[SqlTable]) -> dict[str, list[tuple[str, str]]]:
    """(column, DuckDB type) of each table, as DuckDB names the declared types; no data is read."""
    with duckdb.connect(":memory:") as con:
        described = {}
        for table in declared:
            relation = con.from_arrow(declared_schema(table).empty_table())
            described[table.name] = [(name, str(kind)) for name, kind in zip(relation.columns, relation.types,
                                                                               strict=True)]
        return described
