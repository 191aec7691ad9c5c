"""`datasets/` and `dataset_items/` of PostHog's API (reference §2, §3): scopes `dataset:read` / `dataset:write`."""

from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response

from amigo_api.core.ratelimit import rate_limit
from amigo_api.llm_analytics import schemas as s
from amigo_api.llm_analytics.auth import EnvironmentCaller, environment_access
from amigo_api.llm_analytics.datasets import (
    NEWEST_FIRST,
    check_dataset,
    dataset_order,
    dataset_query,
    datasets,
    items,
)
from amigo_api.llm_analytics.errors import FieldError
from amigo_api.llm_analytics.resources import Limit, Offset, parse_uuid
from amigo_api.llm_analytics.routes import environment_route

Reader = Annotated[EnvironmentCaller, Depends(environment_access("dataset:read"))]
Writer = Annotated[EnvironmentCaller, Depends(environment_access("dataset:write"))]
READS, WRITES = [rate_limit(480)], [rate_limit(240)]


def _forbid_delete(writer: Any) -> Any:
    async def endpoint(caller: writer) -> Response:
        """Hard delete is not allowed: PATCH `{"deleted": true}` instead."""
        return Response(status_code=405)
    return endpoint


def _named(body: s.DatasetPatch) -> s.DatasetPatch:
    if "name" in body.model_fields_set and body.name is None:
        raise FieldError("This field may not be null.", "name", "null")
    return body


@environment_route("/datasets/", methods=["GET"], operation_id="list-datasets",
                   response_model=s.Page[s.DatasetOut], summary="List datasets",
                   dependencies=READS)
async def list_datasets(request: Request, caller: Reader, limit: Limit, offset: Offset, search: str | None = None,
                        order_by: Annotated[list[str], Query()] = [],  # noqa: B006
                        id__in: str | None = None) -> dict[str, Any]:
    """`search` (case-insensitive, over name, description and metadata), `order_by` (`created_at`,
    `updated_at`, either with `-`), `id__in` (comma-separated). Newest first by default."""
    return await datasets.list(request, caller, dataset_query(search, id__in), dataset_order(order_by), limit,
                               offset)


@environment_route("/datasets/", methods=["POST"], status_code=201, operation_id="create-dataset",
                   response_model=s.DatasetOut,
                   summary="Create a dataset", dependencies=WRITES)
async def create_dataset(body: s.DatasetCreate, caller: Writer) -> dict[str, Any]:
    return await datasets.create(caller, body, {"description": None, "metadata": None, "metadata_text": "null"})


@environment_route("/datasets/{dataset_id}/", methods=["GET"], operation_id="retrieve-dataset",
                   response_model=s.DatasetOut,
                   summary="Retrieve a dataset", dependencies=READS)
async def retrieve_dataset(dataset_id: str, caller: Reader) -> dict[str, Any]:
    return await datasets.show(caller, await datasets.get(caller, dataset_id))


@environment_route("/datasets/{dataset_id}/", methods=["PATCH"], operation_id="update-dataset",
                   response_model=s.DatasetOut,
                   summary="Update a dataset (or soft-delete it with `deleted: true`)", dependencies=WRITES)
async def patch_dataset(dataset_id: str, body: s.DatasetPatch, caller: Writer) -> dict[str, Any]:
    return await datasets.update(caller, dataset_id, _named(body))


@environment_route("/datasets/{dataset_id}/", methods=["PUT"], operation_id="replace-dataset",
                   response_model=s.DatasetOut,
                   summary="Replace a dataset", dependencies=WRITES)
async def put_dataset(dataset_id: str, body: s.DatasetCreate, caller: Writer) -> dict[str, Any]:
    return await datasets.update(caller, dataset_id, body)


@environment_route("/dataset_items/", methods=["GET"], operation_id="list-dataset-items",
                   response_model=s.Page[s.DatasetItemOut],
                   summary="List dataset items", dependencies=READS)
async def list_items(request: Request, caller: Reader, limit: Limit, offset: Offset, dataset: str | None = None
                     ) -> dict[str, Any]:
    """`dataset` (a dataset id) filters; newest first."""
    query = {"dataset": parse_uuid(dataset, "dataset")} if dataset else {}
    return await items.list(request, caller, query, NEWEST_FIRST, limit, offset)


@environment_route("/dataset_items/", methods=["POST"], status_code=201, operation_id="create-dataset-item",
                   response_model=s.DatasetItemOut,
                   summary="Create a dataset item", dependencies=WRITES)
async def create_item(body: s.DatasetItemWrite, caller: Writer) -> dict[str, Any]:
    await check_dataset(caller, body.dataset)
    body.dataset = parse_uuid(body.dataset or "", "dataset")
    defaults = {f: None for f in ("input", "output", "metadata", "ref_trace_id", "ref_timestamp", "ref_source_id")}
    return await items.create(caller, body, defaults)


@environment_route("/dataset_items/{item_id}/", methods=["GET"], operation_id="retrieve-dataset-item",
                   response_model=s.DatasetItemOut,
                   summary="Retrieve a dataset item", dependencies=READS)
async def retrieve_item(item_id: str, caller: Reader) -> dict[str, Any]:
    return await items.show(caller, await items.get(caller, item_id))


@environment_route("/dataset_items/{item_id}/", methods=["PATCH"], operation_id="update-dataset-item",
                   response_model=s.DatasetItemOut,
                   summary="Update a dataset item (or soft-delete it with `deleted: true`)", dependencies=WRITES)
@environment_route("/dataset_items/{item_id}/", methods=["PUT"], operation_id="replace-dataset-item",
                   response_model=s.DatasetItemOut,
                   summary="Replace a dataset item", dependencies=WRITES)
async def update_item(item_id: str, body: s.DatasetItemWrite, caller: Writer) -> dict[str, Any]:
    if "dataset" in body.model_fields_set:
        await check_dataset(caller, body.dataset)
        body.dataset = parse_uuid(body.dataset or "", "dataset")
    return await items.update(caller, item_id, body)


for resource, name in (("datasets", "dataset_id"), ("dataset_items", "item_id")):
    environment_route(f"/{resource}/{{{name}}}/", methods=["DELETE"], status_code=405, response_class=Response,
                      operation_id=f"delete-{resource.replace('_', '-')}", summary="Not allowed: soft-delete instead",
                      dependencies=WRITES)(_forbid_delete(Writer))
