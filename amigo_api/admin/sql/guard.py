"""What the SQL endpoint accepts: exactly one read-only query (SELECT, WITH, set operations) over the
organization's own tables, checked on sqlglot's parse tree before DuckDB sees it. DuckDB's own sandbox
(external access off, configuration locked) is the second line."""

import logging

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from amigo_api.core.errors import InvalidRequest

logging.getLogger("sqlglot").setLevel(logging.ERROR)

_QUERY_ROOTS = (exp.Select, exp.Union, exp.Intersect, exp.Except)
_WRITES_AND_COMMANDS = (exp.Into, exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Alter,
                        exp.Copy, exp.Command, exp.Pragma, exp.Set, exp.Use, exp.Attach, exp.Detach, exp.Install,
                        exp.Describe, exp.Show, exp.Transaction, exp.Commit, exp.Rollback, exp.LoadData)
_TABLE_FUNCTIONS = (exp.GenerateSeries, exp.Unnest)
_FORBIDDEN_FUNCTIONS = frozenset({
    "getenv", "current_setting", "query", "query_table", "sniff_csv", "glob", "load", "install", "checkpoint",
    "force_checkpoint", "enable_profiling", "disable_profiling", "set_variable", "getvariable", "pg_read_file",
    "read_text", "read_blob", "json_execute_serialized_sql", "icu_sort_key",
})
_FORBIDDEN_PREFIXES = ("read_", "duckdb_", "pragma_", "parquet_", "iceberg_", "delta_", "sqlite_", "postgres_",
                       "mysql_", "http", "s3", "azure_")


class SqlRefused(InvalidRequest):
    error_code = "sql_refused"


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return node.sql_name().lower()


def _check_function(node: exp.Func) -> None:
    name = _function_name(node)
    if name in _FORBIDDEN_FUNCTIONS or name.startswith(_FORBIDDEN_PREFIXES) or name.endswith("_scan") \
            or isinstance(node, exp.ReadCSV):
        raise SqlRefused(f"The function {name}() is not allowed: queries read only the organization's tables.")


def _check_table(node: exp.Table, known: set[str], ctes: set[str]) -> str | None:
    """The table's name if it is one of the organization's; refuses anything else."""
    source = node.this
    if isinstance(source, _TABLE_FUNCTIONS):
        return None
    if not isinstance(source, exp.Identifier):
        raise SqlRefused("Only the organization's tables may be queried (no table functions or file paths).")
    if node.args.get("catalog") or (node.args.get("db") and node.db.lower() != "main"):
        raise SqlRefused(f"Table {node.sql(dialect='duckdb')!r} is not one of the organization's tables.")
    name = node.name.lower()
    if name in ctes:
        return None
    if name not in known:
        raise SqlRefused(f"Unknown table {node.name!r}; GET sql_schema lists the tables.")
    return name


def check_query(sql: str, tables: set[str]) -> set[str]:
    """The organization's tables the query reads; 400 with the reason for anything not allowed."""
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except SqlglotError as exc:
        raise SqlRefused(f"The SQL query is invalid: {str(exc).splitlines()[0]}") from exc
    if len(statements) != 1:
        raise SqlRefused(f"Exactly one statement is allowed; found {len(statements)}.")
    root = statements[0]
    if not isinstance(root, _QUERY_ROOTS):
        raise SqlRefused(f"Only read-only queries (SELECT, WITH, UNION/INTERSECT/EXCEPT) are allowed, not "
                         f"{root.key.upper()}.")
    ctes = {cte.alias_or_name.lower() for cte in root.find_all(exp.CTE)}
    known = {t.lower() for t in tables}
    used: set[str] = set()
    for node in root.walk():
        if isinstance(node, _WRITES_AND_COMMANDS):
            raise SqlRefused(f"{node.key.upper()} is not allowed: queries are read-only.")
        if isinstance(node, exp.Func):
            _check_function(node)
        if isinstance(node, exp.Table):
            name = _check_table(node, known, ctes)
            if name:
                used.add(name)
    return used
