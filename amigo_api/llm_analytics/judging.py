"""One LLM judge call of a run (reference §5.3, §9): which key pays for it, the call, and what its failures do.

The key: the model configuration's provider key, else (without a model configuration) the environment's
active key, else the trial, served by a provider key the operator configures (`AMIGO_LLM_TRIAL_*`; none by
default) within the environment's trial quota. A trial run takes its place in the quota atomically before the
call and gives it back if the call fails. Keys are read and decrypted here, by id: they never travel in a
workflow."""

from dataclasses import dataclass
from typing import Any

from temporalio.exceptions import ApplicationError

from amigo_api.core.clock import utcnow
from amigo_api.core.crypto import SecretBox
from amigo_api.core.db import Document, OrgDb
from amigo_api.llm_analytics.evaluation_rules import TRIAL_MODELS
from amigo_api.llm_analytics.evaluations import (
    BASE_URLS,
    EVALUATION_CONFIGS,
    EVALUATIONS,
    PROVIDER_KEYS,
    stored_config,
)
from amigo_api.llm_analytics.providers import ProviderError
from amigo_api.settings import Settings

# Provider failures with a BYOK key: the key's new state and the evaluation's status reason.
KEY_FAILURES = {"auth": ("invalid", "provider_key_invalid"), "permission": ("error", "provider_key_permission_denied"),
                "quota": ("error", "provider_key_quota_exceeded"), "rate_limit": ("error", "provider_key_rate_limited")}


class Skip(Exception):  # noqa: N818 - an outcome, not an error
    """The run ends without an event (`skipped`), for this reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


@dataclass(frozen=True)
class JudgeKey:
    provider: str
    model: str
    base_url: str
    api_key: str
    key_id: str | None  # None: the trial
    environment_id: int
    org_id: str

    @property
    def is_byok(self) -> bool:
        return self.key_id is not None


def _scope(org: OrgDb, environment_id: int, **query: Any) -> Document:
    return {"org_id": org.org_id, "environment_id": environment_id, **query}


async def set_status(org: OrgDb, evaluation: Document, reason: str) -> None:
    """An evaluation that cannot run any more stops: `error` with why, and disabled (the status coupling)."""
    await org.db[EVALUATIONS].update_one(
        {"_id": evaluation["_id"], "org_id": org.org_id},
        {"$set": {"status": "error", "status_reason": reason, "enabled": False, "updated_at": utcnow()}})


async def _byok(org: OrgDb, box: SecretBox, evaluation: Document, key_id: str, provider: str, model: str
                ) -> JudgeKey:
    key = await org.db[PROVIDER_KEYS].find_one(_scope(org, evaluation["environment_id"], _id=key_id))
    if key is None:
        await set_status(org, evaluation, "provider_key_deleted")
        raise ApplicationError("The evaluation's provider key no longer exists.", type="key_not_found",
                               non_retryable=True)
    if key["state"] != "ok":
        raise Skip("key_invalid", f"The provider key {key['name']!r} is in state {key['state']}.")
    return JudgeKey(provider, model, key["base_url"], box.decrypt(key["api_key"]), key_id,
                    evaluation["environment_id"], org.org_id)


async def _trial(org: OrgDb, settings: Settings, evaluation: Document, provider: str, model: str) -> JudgeKey:
    if not settings.llm_trial_api_key or TRIAL_MODELS.get(provider) != model:
        await set_status(org, evaluation, "provider_key_required")
        raise Skip("provider_key_required", "No provider key: add one (BYOK), or ask the operator for a trial key.")
    environment_id = evaluation["environment_id"]
    config = await stored_config(org, environment_id)
    taken = await org.db[EVALUATION_CONFIGS].update_one(
        _scope(org, environment_id, _id=str(environment_id), trial_evals_used={"$lt": config["trial_eval_limit"]}),
        {"$inc": {"trial_evals_used": 1}, "$set": {"updated_at": utcnow()}})
    if not taken.modified_count:
        await set_status(org, evaluation, "trial_limit_reached")
        raise Skip("trial_limit_reached",
                   f"The trial's {config['trial_eval_limit']} evaluations are used: add a provider key.")
    base_url = settings.llm_trial_base_url or BASE_URLS.get(provider, BASE_URLS["openai"])
    return JudgeKey(provider, model, base_url, settings.llm_trial_api_key, None, environment_id, org.org_id)


async def resolve_key(org: OrgDb, box: SecretBox, settings: Settings, evaluation: Document) -> JudgeKey:
    model = evaluation.get("model_configuration")
    if model is not None:
        if model.get("provider_key_id"):
            return await _byok(org, box, evaluation, model["provider_key_id"], model["provider"], model["model"])
        return await _trial(org, settings, evaluation, model["provider"], model["model"])
    config = await stored_config(org, evaluation["environment_id"])
    if config.get("active_provider_key"):
        return await _byok(org, box, evaluation, config["active_provider_key"], "openai", settings.llm_judge_model)
    return await _trial(org, settings, evaluation, "openai", settings.llm_judge_model)


async def give_back_trial(org: OrgDb, key: JudgeKey) -> None:
    if not key.is_byok:
        await org.db[EVALUATION_CONFIGS].update_one(_scope(org, key.environment_id, _id=str(key.environment_id)),
                                                    {"$inc": {"trial_evals_used": -1}})


async def key_used(org: OrgDb, key: JudgeKey) -> None:
    if key.key_id is not None:
        await org.db[PROVIDER_KEYS].update_one(_scope(org, key.environment_id, _id=key.key_id),
                                               {"$set": {"last_used_at": utcnow()}})


async def failed(org: OrgDb, evaluation: Document, key: JudgeKey, error: ProviderError) -> ApplicationError:
    """A provider failure: the key's state and the evaluation's status where the reference says, then the error
    for Temporal (retried only when it may pass: a server error or the network)."""
    await give_back_trial(org, key)
    if key.key_id is not None and error.kind in KEY_FAILURES:
        state, reason = KEY_FAILURES[error.kind]
        await org.db[PROVIDER_KEYS].update_one(_scope(org, key.environment_id, _id=key.key_id),
                                               {"$set": {"state": state, "error_message": error.message}})
        await set_status(org, evaluation, reason)
    elif error.kind == "model_not_found":
        await set_status(org, evaluation, "model_not_found")
    details = {"key_id": key.key_id} if key.key_id else {}
    return ApplicationError(error.message, details, type=error.kind, non_retryable=not error.retryable)
