"""What PostHog's LLM analytics resources share: UUIDv7 ids, limit/offset pages `{count, next, previous,
results}`, `created_by` as UserBasic, soft delete, and the environment scoping of every query."""

import os
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from pydantic import WithJsonSchema

from amigo_api.core.db import Document, OrgDb
from amigo_api.llm_analytics import schemas as s
from amigo_api.llm_analytics.errors import FieldError
from amigo_api.llm_analytics.service import user_basic

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000  # PostHog's LimitOffsetPagination has none; a page is bounded here
MAX_OFFSET = 10**9  # past every result, and within what MongoDB skips
AS_INTEGER = WithJsonSchema({"type": "integer"})  # documented as PostHog does; read as its pagination reads it


def _non_negative(text: str | None, *, strict: bool, cutoff: int) -> int | None:
    """DRF's `_positive_int`: the value when it is a non-negative integer (positive when `strict`), at most
    `cutoff`; else None, and the default applies (PostHog never refuses a page for its `limit` or `offset`)."""
    try:
        value = int(text) if text is not None else -1
    except ValueError:
        return None
    if value < 0 or (value == 0 and strict):
        return None
    return min(value, cutoff)


def page_limit(limit: Annotated[str | None, AS_INTEGER, Query(description=(
        f"Number of results to return per page: {DEFAULT_LIMIT} unless a positive integer, at most {MAX_LIMIT}."))]
        = None) -> int:
    return _non_negative(limit, strict=True, cutoff=MAX_LIMIT) or DEFAULT_LIMIT


def page_offset(offset: Annotated[str | None, AS_INTEGER, Query(description=(
        "The initial index from which to return the results: 0 unless a non-negative integer."))] = None) -> int:
    return _non_negative(offset, strict=False, cutoff=MAX_OFFSET) or 0


Limit = Annotated[int, Depends(page_limit)]
Offset = Annotated[int, Depends(page_offset)]


def uuid7() -> str:
    """A time-ordered UUID (RFC 9562 version 7): 48 bits of milliseconds, then random bits."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))


def as_uuid(value: str) -> str | None:
    """The canonical form of a UUID, or None. A path id that is not one names nothing: 404, as PostHog answers."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def parse_uuid(value: str, attr: str) -> str:
    """A UUID the client sends in a body or a filter: anything else is 400 on `attr`."""
    parsed = as_uuid(value)
    if parsed is None:
        raise FieldError(f"“{value[:100]}” is not a valid UUID.", attr, "invalid")
    return parsed


def id_list(text: str | None, attr: str = "id__in") -> list[str] | None:
    """`id__in=<uuid>,<uuid>`: None when absent."""
    if not text:
        return None
    return [parse_uuid(part.strip(), attr) for part in text.split(",") if part.strip()]


def order(values: list[str], allowed: tuple[str, ...], default: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """`order_by` values such as `-created_at`; anything else is 400 with `attr` `order_by`."""
    if not values:
        return default
    sort = []
    for value in (part for item in values for part in item.split(",") if part):
        field = value.removeprefix("-")
        if field not in allowed:
            choices = ", ".join(f"{f}, -{f}" for f in allowed)
            raise FieldError(f"Select a valid choice. {value} is not one of the available choices: {choices}.",
                             "order_by", "invalid_choice")
        sort.append((field, -1 if value.startswith("-") else 1))
    return [*sort, ("_id", 1)]


def _page_url(request: Request, limit: int, offset: int) -> str:
    return str(request.url.include_query_params(limit=limit, offset=offset))


async def page(request: Request, collection: Any, query: Document, sort: list[tuple[str, int]], limit: int,
               offset: int, render: Callable[[Document], Awaitable[Any]]) -> dict[str, Any]:
    """PostHog's LimitOffsetPagination over `query`."""
    count = await collection.count_documents(query)
    docs = await collection.find(query).sort(sort).skip(offset).limit(limit).to_list()
    return {"count": count,
            "next": _page_url(request, limit, offset + limit) if offset + limit < count else None,
            "previous": _page_url(request, limit, max(0, offset - limit)) if offset > 0 else None,
            "results": [await render(d) for d in docs]}


class Creators:
    """UserBasic for `created_by`, looked up once per user for one answer."""

    def __init__(self, org: OrgDb) -> None:
        self.org = org
        self.seen: dict[str, s.UserBasic | None] = {}

    async def of(self, user_id: str | None) -> dict[str, Any] | None:
        if user_id is None:
            return None
        if user_id not in self.seen:
            self.seen[user_id] = await user_basic(self.org, user_id)
        found = self.seen[user_id]
        return found.model_dump() if found else None
