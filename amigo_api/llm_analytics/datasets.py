"""Datasets and dataset items (reference §2, §3): soft delete by `PATCH {"deleted": true}` (hidden from list
and retrieve, still patchable), an item only ever names a dataset of its own environment."""

import json
import re
from typing import Any

from fastapi import Request
from pydantic import BaseModel

from amigo_api.core.clock import utcnow
from amigo_api.core.db import Document
from amigo_api.core.errors import NotFound
from amigo_api.core.sql_tables import (
    BOOLEAN,
    INTEGER,
    JSON,
    TEXT,
    TIMESTAMP,
    Column,
    ColumnType,
    SqlTable,
    register_table,
)
from amigo_api.llm_analytics.auth import EnvironmentCaller
from amigo_api.llm_analytics.errors import FieldError
from amigo_api.llm_analytics.resources import Creators, as_uuid, id_list, order, page, parse_uuid, uuid7

DATASETS = "llm_datasets"
ITEMS = "llm_dataset_items"
NEWEST_FIRST = [("created_at", -1), ("_id", 1)]
DATASET_FIELDS = ("name", "description", "metadata", "deleted")
ITEM_FIELDS = ("dataset", "input", "output", "metadata", "ref_trace_id", "ref_timestamp", "ref_source_id", "deleted")


def _scope(caller: EnvironmentCaller, **query: Any) -> Document:
    return {"org_id": caller.org.org_id, "environment_id": caller.environment["_id"], **query}


def _not_found() -> NotFound:
    return NotFound("Not found.")


async def _render_dataset(doc: Document, caller: EnvironmentCaller, creators: Creators) -> dict[str, Any]:
    return {"id": doc["_id"], "name": doc["name"], "description": doc["description"], "metadata": doc["metadata"],
            "created_at": doc["created_at"], "updated_at": doc["updated_at"], "deleted": doc["deleted"],
            "created_by": await creators.of(doc["created_by"]), "team": caller.environment["_id"]}


async def _render_item(doc: Document, caller: EnvironmentCaller, creators: Creators) -> dict[str, Any]:
    return {"id": doc["_id"], **{f: doc[f] for f in ITEM_FIELDS}, "created_at": doc["created_at"],
            "updated_at": doc["updated_at"], "created_by": await creators.of(doc["created_by"]),
            "team": caller.environment["_id"]}


def _changes(body: BaseModel, fields: tuple[str, ...]) -> Document:
    """The fields the request sent (`team`, `created_by` and unknown fields are ignored)."""
    changes = {f: getattr(body, f) for f in fields if f in body.model_fields_set}
    if "metadata" in changes:
        changes["metadata_text"] = json.dumps(changes["metadata"], sort_keys=True)
    if "deleted" in changes:
        changes["deleted"] = bool(changes["deleted"])
        changes["deleted_at"] = utcnow() if changes["deleted"] else None
    return changes


class Resource:
    """One collection of an environment: datasets or dataset items."""

    def __init__(self, collection: str, fields: tuple[str, ...], render: Any) -> None:
        self.collection_name, self.fields, self.render = collection, fields, render

    def collection(self, caller: EnvironmentCaller) -> Any:
        return caller.org.db[self.collection_name]

    async def get(self, caller: EnvironmentCaller, object_id: str, include_deleted: bool = False) -> Document:
        object_uuid = as_uuid(object_id)
        if object_uuid is None:
            raise _not_found()
        query = _scope(caller, _id=object_uuid)
        if not include_deleted:
            query["deleted"] = False
        found = await self.collection(caller).find_one(query)
        if found is None:
            raise _not_found()
        return dict(found)

    async def show(self, caller: EnvironmentCaller, doc: Document) -> dict[str, Any]:
        return dict(await self.render(doc, caller, Creators(caller.org)))

    async def list(self, request: Request, caller: EnvironmentCaller, query: Document, sort: list[tuple[str, int]],
                   limit: int, offset: int) -> dict[str, Any]:
        creators = Creators(caller.org)
        return await page(request, self.collection(caller), _scope(caller, deleted=False, **query), sort, limit,
                          offset, lambda d: self.render(d, caller, creators))

    async def create(self, caller: EnvironmentCaller, body: BaseModel, defaults: Document) -> dict[str, Any]:
        now = utcnow()
        doc = {**_scope(caller), "_id": uuid7(), **defaults, "deleted": False, "deleted_at": None,
               **_changes(body, self.fields), "created_by": caller.principal.user_id, "created_at": now,
               "updated_at": now}
        await self.collection(caller).insert_one(doc)
        return await self.show(caller, doc)

    async def update(self, caller: EnvironmentCaller, object_id: str, body: BaseModel) -> dict[str, Any]:
        """Deleted rows stay updatable (undelete is `{"deleted": false}`)."""
        current = await self.get(caller, object_id, include_deleted=True)
        changes = {**_changes(body, self.fields), "updated_at": utcnow()}
        await self.collection(caller).update_one(_scope(caller, _id=current["_id"]), {"$set": changes})
        return await self.show(caller, {**current, **changes})


datasets = Resource(DATASETS, DATASET_FIELDS, _render_dataset)
items = Resource(ITEMS, ITEM_FIELDS, _render_item)


def dataset_query(search: str | None, ids: str | None) -> Document:
    query: Document = {}
    if search:
        pattern = {"$regex": re.escape(search), "$options": "i"}
        query["$or"] = [{"name": pattern}, {"description": pattern}, {"metadata_text": pattern}]
    if (wanted := id_list(ids)) is not None:
        query["_id"] = {"$in": wanted}
    return query


def dataset_order(order_by: list[str]) -> list[tuple[str, int]]:
    return order(order_by, ("created_at", "updated_at"), NEWEST_FIRST)


async def check_dataset(caller: EnvironmentCaller, dataset_id: str | None) -> None:
    """An item's dataset must be one of the same environment (400 otherwise, where PostHog v1 had no check)."""
    if dataset_id is None:
        raise FieldError("This field is required.", "dataset", "required")
    found = await datasets.collection(caller).find_one(_scope(caller, _id=parse_uuid(dataset_id, "dataset")))
    if found is None:
        raise FieldError(f"Invalid pk \"{dataset_id}\" - object does not exist.", "dataset", "does_not_exist")


ID_COLUMN = Column(TEXT, "_id")
COMMON_COLUMNS: dict[str, ColumnType] = {"environment_id": INTEGER, "deleted": BOOLEAN, "created_by": TEXT,
                                         "created_at": TIMESTAMP, "updated_at": TIMESTAMP}
register_table(SqlTable("datasets", DATASETS, {
    "id": ID_COLUMN, "name": TEXT, "description": TEXT, "metadata": JSON, **COMMON_COLUMNS}))
register_table(SqlTable("dataset_items", ITEMS, {
    "id": ID_COLUMN, "dataset": TEXT, "input": JSON, "output": JSON, "metadata": JSON, "ref_trace_id": TEXT,
    "ref_timestamp": TIMESTAMP, "ref_source_id": TEXT, **COMMON_COLUMNS}))
