"""`evaluations/`, `llm_analytics/provider_keys/` and `llm_analytics/evaluation_config/` of PostHog's API
(reference §4, §9): scopes `evaluation:read` / `evaluation:write` (provider keys and the evaluation config
too: our keys' scopes have no `llm_provider_key`)."""

import json
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from amigo_api.core.crypto import SecretBox
from amigo_api.core.outbound import OutboundPolicy
from amigo_api.core.ratelimit import rate_limit
from amigo_api.core.state import AppSettings, Secrets, TemporalClient, from_app_state
from amigo_api.hog.pool import HogPool
from amigo_api.llm_analytics import evaluation_runs, hog_testing, run_records
from amigo_api.llm_analytics import evaluations as service
from amigo_api.llm_analytics import schemas as s
from amigo_api.llm_analytics.auth import EnvironmentCaller, environment_access
from amigo_api.llm_analytics.errors import FieldError
from amigo_api.llm_analytics.resources import Limit, Offset, page
from amigo_api.llm_analytics.routes import environment_route

Reader = Annotated[EnvironmentCaller, Depends(environment_access("evaluation:read"))]
Hog = Annotated[HogPool, Depends(from_app_state("hog_pool", HogPool))]
Outbound = Annotated[OutboundPolicy, Depends(from_app_state("outbound", OutboundPolicy))]
Writer = Annotated[EnvironmentCaller, Depends(environment_access("evaluation:write"))]
READS, WRITES = [rate_limit(480)], [rate_limit(240)]


def _model_names(request: Request) -> set[str]:
    return {m["name"] for m in request.app.state.model_registry.supported()}


ModelNames = Annotated[set[str], Depends(_model_names)]


@environment_route("/evaluations/", methods=["GET"], operation_id="list-evaluations",
                   response_model=s.Page[s.EvaluationOut], summary="List evaluations",
                   dependencies=READS)
async def list_evaluations(request: Request, caller: Reader, limit: Limit, offset: Offset, search: str | None = None,
                           enabled: bool | None = None, order_by: Annotated[list[str], Query()] = [],  # noqa: B006
                           id__in: str | None = None) -> dict[str, Any]:
    """`search` (name or description), `enabled`, `id__in`, `order_by` (`created_at`, `updated_at`, `name`,
    each with an optional `-`); newest first by default; deleted ones are left out."""
    return await service.list_evaluations(request, caller, service.evaluation_query(search, enabled, id__in),
                                          service.evaluation_order(order_by), limit, offset)


@environment_route("/evaluations/", methods=["POST"], status_code=201, operation_id="create-evaluation",
                   response_model=s.EvaluationOut,
                   summary="Create an evaluation", dependencies=WRITES)
async def create_evaluation(body: s.EvaluationCreate, caller: Writer, names: ModelNames, pool: Hog
                            ) -> dict[str, Any]:
    return await service.create_evaluation(caller, names, pool, body)


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError as error:
        raise FieldError(f"JSON parse error - {error}", None, "parse_error") from error


@environment_route("/evaluations/test_hog/", methods=["POST"], operation_id="test-hog-evaluation",
                   summary="Try Hog source on recent generations", dependencies=READS,
                   responses={200: {"description": "One result per sampled generation"},
                              400: {"description": "`{\"error\": ...}`: the request or the source is invalid"}})
async def test_hog(request: Request, caller: Reader, settings: AppSettings, pool: Hog) -> JSONResponse:
    """Runs `source` as a Hog evaluation on the environment's newest `$ai_generation` events of the last 7
    days (`sample_count`, 1 to 10, default 5) that pass any of `conditions` (their property filters; the
    rollout is ignored). Nothing is saved. Each result has the verdict (`result`), what the program printed
    (`reasoning`), its `error`, and previews of the event's input and output."""
    body = await _json(request)
    limits = hog_testing.limits_of(settings)
    try:
        return JSONResponse(await hog_testing.dry_run(caller, body, pool, limits, settings.hog_test_budget_seconds))
    except hog_testing.HogTestRefusal as refusal:
        return JSONResponse({"error": refusal.error}, status_code=400)


@environment_route("/evaluation_runs/", methods=["POST"], status_code=202, operation_id="create-evaluation-run",
                   summary="Run an evaluation on one event", dependencies=WRITES,
                   responses={202: {"description": "The run started: `workflow_id`, `evaluation`, `target_event_id`"},
                              400: {"description": "`{\"error\": {field: [messages]}}`"},
                              404: {"description": "`{\"error\": \"Evaluation <id> not found\"}` (or the event)"},
                              500: {"description": "`{\"error\": \"Failed to start evaluation\"}`"}})
async def create_evaluation_run(request: Request, caller: Writer, settings: AppSettings, client: TemporalClient
                                ) -> JSONResponse:
    """Starts `run-evaluation` on the event `target_event_id` (found by its uuid, `event`, default
    `$ai_generation`, optional `distinct_id`, and the day of `timestamp`). The evaluation need not be enabled.
    The result arrives as an `$ai_evaluation` event, and in `evaluations/{id}/runs/`."""
    try:
        return JSONResponse(await evaluation_runs.run_now(caller, client, settings, await _json(request)),
                            status_code=202)
    except evaluation_runs.RunRefusal as refusal:
        return JSONResponse({"error": refusal.error}, status_code=refusal.status)


@environment_route("/evaluations/{evaluation_id}/runs/", methods=["GET"], operation_id="list-evaluation-runs",
                   response_model=s.Page[s.EvaluationRunOut], summary="Recent runs of an evaluation",
                   dependencies=READS)
async def list_evaluation_runs(request: Request, evaluation_id: str, caller: Reader, limit: Limit, offset: Offset
                               ) -> dict[str, Any]:
    """An extension of PostHog's API: the evaluation's runs, newest first: `started`, then `completed` with the
    verdict, `skipped` with `skip_reason`, or `failed` with `message`."""
    evaluation = await service.evaluations.get(caller, evaluation_id, include_deleted=True)
    query = run_records.runs_of(caller.org, caller.environment["_id"], evaluation["_id"])
    return await page(request, caller.org.db[run_records.RUNS], query, run_records.SORT, limit, offset,
                      run_records.render)


@environment_route("/evaluations/{evaluation_id}/", methods=["GET"], operation_id="retrieve-evaluation",
                   response_model=s.EvaluationOut,
                   summary="Retrieve an evaluation", dependencies=READS)
async def retrieve_evaluation(evaluation_id: str, caller: Reader) -> dict[str, Any]:
    return await service.evaluations.show(caller, await service.evaluations.get(caller, evaluation_id))


@environment_route("/evaluations/{evaluation_id}/", methods=["PATCH"], operation_id="update-evaluation",
                   response_model=s.EvaluationOut,
                   summary="Update an evaluation (or soft-delete it with `deleted: true`)", dependencies=WRITES)
async def patch_evaluation(evaluation_id: str, body: s.EvaluationPatch, caller: Writer, names: ModelNames,
                           pool: Hog) -> dict[str, Any]:
    return await service.update_evaluation(caller, names, pool, evaluation_id, body)


@environment_route("/evaluations/{evaluation_id}/", methods=["PUT"], operation_id="replace-evaluation",
                   response_model=s.EvaluationOut,
                   summary="Replace an evaluation", dependencies=WRITES)
async def put_evaluation(evaluation_id: str, body: s.EvaluationCreate, caller: Writer, names: ModelNames,
                         pool: Hog) -> dict[str, Any]:
    return await service.update_evaluation(caller, names, pool, evaluation_id, body)


@environment_route("/evaluations/{evaluation_id}/", methods=["DELETE"], status_code=405, response_class=Response,
                   operation_id="delete-evaluation", summary="Not allowed: soft-delete instead", dependencies=WRITES)
async def delete_evaluation(caller: Writer) -> Response:
    return Response(status_code=405)


@environment_route("/llm_analytics/provider_keys/", methods=["GET"], operation_id="list-provider-keys",
                   response_model=s.Page[s.ProviderKeyOut],
                   summary="List provider keys", dependencies=READS)
async def list_provider_keys(caller: Reader) -> dict[str, Any]:
    keys = await service.list_provider_keys(caller)
    return {"count": len(keys), "next": None, "previous": None, "results": keys}


@environment_route("/llm_analytics/provider_keys/", methods=["POST"], status_code=201,
                   operation_id="create-provider-key",
                   response_model=s.ProviderKeyOut, summary="Add a provider key (BYOK)", dependencies=WRITES)
async def create_provider_key(body: s.ProviderKeyCreate, caller: Writer, secrets: Secrets, outbound: Outbound
                              ) -> dict[str, Any]:
    """The key is encrypted at rest and only ever shown masked. `base_url` (default: the provider's public
    API) lets an OpenAI-compatible server or a self-hosted model serve the judge. It must lead to a public address
    unless the server's operator allows others (`AMIGO_OUTBOUND_ALLOW_PRIVATE`, `AMIGO_OUTBOUND_ALLOWED_HOSTS`):
    400 with `attr` `base_url` otherwise."""
    box: SecretBox = secrets
    return await service.create_provider_key(caller, box, outbound, body)


@environment_route("/llm_analytics/provider_keys/{key_id}/", methods=["DELETE"], status_code=204,
                   response_class=Response, operation_id="delete-provider-key", summary="Delete a provider key",
                   dependencies=WRITES)
async def delete_provider_key(key_id: str, caller: Writer) -> Response:
    await service.delete_provider_key(caller, key_id)
    return Response(status_code=204)


@environment_route("/llm_analytics/evaluation_config/", methods=["GET"], operation_id="get-evaluation-config",
                   response_model=s.EvaluationConfigOut,
                   summary="The environment's evaluation config", dependencies=READS)
async def get_evaluation_config(caller: Reader) -> dict[str, Any]:
    return await service.evaluation_config(caller)


@environment_route("/llm_analytics/evaluation_config/set_active_key/", methods=["POST"],
                   operation_id="set-active-provider-key",
                   response_model=s.EvaluationConfigOut, summary="Set the active provider key", dependencies=WRITES)
async def set_active_key(body: s.SetActiveKey, caller: Writer) -> dict[str, Any]:
    return await service.set_active_key(caller, body.key_id)
