"""Running a checked query: the organization's tables as cached Arrow snapshots, copied into a fresh in-memory
DuckDB database that is then sealed (no external access, no extensions, configuration locked, memory and thread
limits) before the query runs.

Snapshots are cached per process and reused while the collection's write count (`data_versions`, bumped by
every repository write) is unchanged and the snapshot is younger than `sql_snapshot_max_age_seconds`."""

import asyncio
import base64
import csv
import datetime as dt
import decimal
import io
import json
import math
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import duckdb
import pyarrow as pa

from amigo_api.admin.sql.columns import arrow_table, collect
from amigo_api.admin.sql.repository import SnapshotSource
from amigo_api.core.db import OrgDb
from amigo_api.core.errors import AmigoError, InvalidRequest
from amigo_api.core.sql_tables import SqlTable, SqlType, tables
from amigo_api.settings import Settings

FETCH_BATCH = 10_000
# Rows fetched at a time for a synchronous answer, whose size is checked as it grows.
SYNC_FETCH_ROWS = 16
CACHED_ORGANIZATIONS = 16


class QueryTimedOut(AmigoError):
    status_code = 408
    error_code = "sql_query_timeout"
    detail = "The supplied query cannot be executed within the time limit."


class QueryFailed(InvalidRequest):
    error_code = "sql_query_failed"


@dataclass
class _Snapshot:
    version: int
    taken_at: float
    data: pa.Table


class SnapshotCache:
    """One per app (`app.state.sql_snapshots`): the organizations' table snapshots, and how many queries run
    at once."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # DuckDB runs in worker threads; this many queries at once per process, the rest wait their turn.
        self.limiter = anyio.CapacityLimiter(4)
        self._orgs: OrderedDict[str, dict[str, _Snapshot]] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}

    async def tables(self, org: OrgDb, names: set[str]) -> dict[str, pa.Table]:
        """Current snapshots of the named tables, reloading only those whose collection changed."""
        wanted = [t for t in tables() if t.name in names]
        async with self._locks.setdefault(org.org_id, asyncio.Lock()):
            versions = await SnapshotSource(org).write_counts([t.collection for t in wanted])
            cached = self._orgs.setdefault(org.org_id, {})
            self._orgs.move_to_end(org.org_id)
            while len(self._orgs) > CACHED_ORGANIZATIONS:
                self._orgs.popitem(last=False)
            for table in wanted:
                snapshot = cached.get(table.name)
                fresh = snapshot is not None and snapshot.version == versions[table.collection] and \
                    time.monotonic() - snapshot.taken_at < self.settings.sql_snapshot_max_age_seconds
                if not fresh:
                    cached[table.name] = _Snapshot(versions[table.collection], time.monotonic(),
                                                   await self._load(org, table))
            return {t.name: cached[t.name].data for t in wanted}

    async def _load(self, org: OrgDb, table: SqlTable) -> pa.Table:
        """Batches are converted in a thread while the next one is read. Whole documents are read (a projection
        is slower on the embedded server); only the declared columns are kept."""
        scope = table.scope(self.settings) if table.scope else {}
        cursor = SnapshotSource(org).documents(table.collection, scope, FETCH_BATCH)
        columns: dict[str, list[Any]] = {name: [] for name in table.columns}
        converting: asyncio.Future[None] | None = None
        while batch := await cursor.to_list(FETCH_BATCH):
            if converting is not None:
                await converting
            converting = asyncio.ensure_future(asyncio.to_thread(collect, table, batch, columns))
        if converting is not None:
            await converting
        return await asyncio.to_thread(arrow_table, table, columns)


# The sandbox -------------------------------------------------------------------------------------------

def sandbox(settings: Settings, snapshots: dict[str, pa.Table]) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory database holding copies of these tables and nothing else, then sealed."""
    con = duckdb.connect(":memory:", config={
        "threads": settings.sql_threads, "memory_limit": settings.sql_memory_limit,
        "autoload_known_extensions": False, "autoinstall_known_extensions": False,
        "allow_community_extensions": False})
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    for name, data in snapshots.items():
        con.register("__snapshot", data)
        con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM __snapshot')
        con.unregister("__snapshot")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


@dataclass
class QueryResult:
    columns: list[tuple[str, str]]
    rows: list[tuple[Any, ...]]
    truncated: bool
    elapsed_ms: int


def _interrupting(con: duckdb.DuckDBPyConnection, timeout: float) -> threading.Timer:
    timer = threading.Timer(timeout, con.interrupt)
    timer.daemon = True
    timer.start()
    return timer


def _duckdb_error(exc: duckdb.Error) -> AmigoError:
    if isinstance(exc, duckdb.InterruptException):
        return QueryTimedOut()
    return QueryFailed(f"The SQL query failed: {str(exc).splitlines()[0]}")


def approximate_size(value: Any) -> int:
    """About how many bytes a value takes in a JSON answer."""
    if isinstance(value, str | bytes | bytearray):
        return len(value) + 2
    if isinstance(value, dict):
        return sum(len(str(k)) + approximate_size(v) + 4 for k, v in value.items()) + 2
    if isinstance(value, list | tuple | set):
        return sum(approximate_size(v) + 1 for v in value) + 2
    if value is None or isinstance(value, bool | int | float):
        return 8
    return len(str(value)) + 2


def run_query(settings: Settings, snapshots: dict[str, pa.Table], sql: str, max_rows: int, max_bytes: int,
              timeout: float) -> QueryResult:
    """At most `max_rows` rows and about `max_bytes` of values (`truncated` says whether more existed), fetched a
    few rows at a time so a query of huge rows never lands whole in this process; interrupted after `timeout`."""
    started = time.perf_counter()
    with sandbox(settings, snapshots) as con:
        timer = _interrupting(con, timeout)
        try:
            cursor = con.execute(sql)
            columns = [(d[0], str(d[1])) for d in cursor.description or []]
            rows, truncated = _bounded_rows(cursor, max_rows, max_bytes)
        except duckdb.Error as exc:
            raise _duckdb_error(exc) from exc
        finally:
            timer.cancel()
    return QueryResult(columns, rows, truncated, int((time.perf_counter() - started) * 1000))


def _bounded_rows(cursor: duckdb.DuckDBPyConnection, max_rows: int, max_bytes: int
                  ) -> tuple[list[tuple[Any, ...]], bool]:
    rows: list[tuple[Any, ...]] = []
    size = 0
    while batch := cursor.fetchmany(SYNC_FETCH_ROWS):
        for row in batch:
            size += approximate_size(row)
            if len(rows) == max_rows or size > max_bytes:
                return rows, True
            rows.append(row)
    return rows, False


def run_query_to_csv(settings: Settings, snapshots: dict[str, pa.Table], sql: str, timeout: float,
                     write: Callable[[Iterator[bytes]], int]) -> int:
    """Every row as CSV (nested values as JSON), handed to `write` as it is produced; returns the row count."""
    count = 0
    with sandbox(settings, snapshots) as con:
        timer = _interrupting(con, timeout)
        try:
            cursor = con.execute(sql)
            header = [d[0] for d in cursor.description or []]

            def lines() -> Iterator[bytes]:
                nonlocal count
                buffer = io.StringIO()
                writer = csv.writer(buffer)
                writer.writerow(header)
                while batch := cursor.fetchmany(FETCH_BATCH):
                    writer.writerows([[_csv_cell(v) for v in row] for row in batch])
                    count += len(batch)
                    yield buffer.getvalue().encode()
                    buffer.seek(0)
                    buffer.truncate()
                yield buffer.getvalue().encode()

            write(lines())
        except duckdb.Error as exc:
            raise _duckdb_error(exc) from exc
        finally:
            timer.cancel()
    return count


# Results -> JSON ---------------------------------------------------------------------------------------

def json_safe(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [json_safe(v) for v in value]
    return str(value)


def _json_value(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else json_safe(text)
    except ValueError:
        return text


def json_rows(columns: list[tuple[str, str]], rows: list[tuple[Any, ...]]) -> list[list[Any]]:
    """Rows as JSON values: a JSON column's text becomes the value it holds."""
    decoders = [_json_value if kind == SqlType.JSON else json_safe for _, kind in columns]
    return [[decode(v) for decode, v in zip(decoders, row, strict=True)] for row in rows]


def _csv_cell(value: Any) -> Any:
    safe = json_safe(value)
    return json.dumps(safe) if isinstance(safe, dict | list) else safe
