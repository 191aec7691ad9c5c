"""Pagination, sorting and tag filters, written once for every list endpoint."""

from collections.abc import Iterable
from typing import Annotated, Any, TypedDict

from fastapi import Query

from amigo_api.core.db import Document
from amigo_api.core.errors import AmigoError
from amigo_api.core.ids import OBJECT_ID_PATTERN
from amigo_api.core.schemas import MAX_COUNT


class QueryValidationError(AmigoError):
    status_code = 422
    error_code = "validation_error"


ContinuationToken = Annotated[
    int, Query(ge=0, le=MAX_COUNT, description="The token from the previous request to return the next page.")
]
IdFilter = Annotated[list[Annotated[str, Query(pattern=OBJECT_ID_PATTERN)]],
                     Query(description="IDs to filter for; repeat the parameter for several.")]
SortBy = Annotated[
    list[str],
    Query(description="Fields to sort by, each prefixed with `+` (ascending) or `-` (descending)."),
]


def parse_sort(sort_by: Iterable[str], allowed: dict[str, str]) -> list[tuple[str, int]]:
    """`+field`/`-field` (a bare field sorts ascending) mapped to document fields; later fields break ties."""
    sort: list[tuple[str, int]] = []
    for item in sort_by:
        direction = -1 if item.startswith("-") else 1
        name = item[1:] if item[:1] in "+-" else item
        if name not in allowed:
            raise QueryValidationError(
                f"Cannot sort by {name!r}; supported fields are {', '.join(sorted(allowed))}."
            )
        sort.append((allowed[name], direction))
    return sort


def next_token(skip: int, returned: int, has_more: bool) -> int | None:
    return skip + returned if has_more else None


def parse_tag_filter(tag: str) -> tuple[str, str | None]:
    if ":" not in tag:
        raise QueryValidationError(f"Tag filter {tag!r} must be written as `key:value`, `key:*` or `key:`.")
    key, value = tag.split(":", 1)
    return key, value


def tag_filters(tags: Iterable[str], field: str = "tags") -> list[Document]:
    """One MongoDB clause per `key:value` (exact), `key:*` (any value) or `key:` (value is null);
    tags are stored as `[{key, value}]`. Several filters must all match."""
    clauses: list[Document] = []
    for tag in tags:
        key, value = parse_tag_filter(tag)
        if value == "*":
            clauses.append({field: {"$elemMatch": {"key": key}}})
        else:
            clauses.append({field: {"$elemMatch": {"key": key, "value": value or None}}})
    return clauses


class TagDocument(TypedDict):
    """A tag as documents store it (and the contract shows it)."""

    key: str
    value: str | None


def tags_to_list(tags: dict[str, str | None]) -> list[TagDocument]:
    return [TagDocument(key=k, value=v) for k, v in tags.items()]


def tags_to_strings(tags: dict[str, str | None]) -> list[str]:
    """`key:value` strings (`key:` for a null value), the form permission conditions match on."""
    return [f"{k}:{v or ''}" for k, v in tags.items()]


def and_all(*clauses: Document | None) -> Document:
    parts = [c for c in clauses if c]
    if not parts:
        return {}
    return parts[0] if len(parts) == 1 else {"$and": parts}


def unique(values: list[Any], name: str) -> list[Any]:
    if len(set(values)) != len(values):
        raise QueryValidationError(f"Query parameter {name!r} must not repeat a value.")
    return values
