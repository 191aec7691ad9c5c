"""Every JSON operation of our OpenAPI document, fuzzed with schemathesis against a live API process as a signed-in
super administrator of a throwaway organization: no answer is a 5xx, and every answer matches its documented schema.
Operations added later join automatically. The budget is bounded per operation."""

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import response_schema_conformance

from amigo_api.bootstrap import bootstrap
from amigo_api.settings import Settings
from tests.live import live_api

EXAMPLES_PER_OPERATION = 25
# Not JSON (git smart HTTP, zip and raw file downloads), or long-running by design on Temporal workers this
# live API does not have (SQL queries, tool runs); those have their own tests, probes included.
EXCLUDED_OPERATIONS = ("access-git-interface-get", "access-git-interface-post", "get-prompt-logs",
                       "get-tool-repo-file", "submit-sql-query", "get-sql-query-result", "test-tool",
                       "publish-tool-version", "invoke-tool-version")


@dataclass(frozen=True)
class FuzzTarget:
    url: str
    org_id: str
    headers: dict[str, str]


@pytest.fixture(scope="module")
def fuzz_target(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzTarget]:
    org_id = f"fuzz{uuid.uuid4().hex[:12]}"
    with live_api(settings, tmp_path_factory.mktemp("fuzz"), "api-fuzz", AMIGO_RATE_LIMIT_SCALE="1000") as url:
        creds = asyncio.run(bootstrap(settings, org_id, "fuzzer@example.com", "DefaultSuperAdministratorRole"))
        signed_in = httpx.post(f"{url}/v1/{org_id}/user/signin_with_api_key", headers={
            "x-api-key": creds["api_key"], "x-api-key-id": creds["api_key_id"], "x-user-id": creds["user_id"]})
        token = signed_in.json()["id_token"]
        yield FuzzTarget(url, org_id, {"Authorization": f"Bearer {token}", "X-ORG-ID": org_id})


def _fuzz(operation: APIOperation, target: FuzzTarget) -> list[str]:
    """Run one operation's examples; the failures found, one line each."""
    failures: list[str] = []

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck),
              derandomize=True, database=None, phases=[Phase.explicit, Phase.generate])
    def examples(case: schemathesis.Case) -> None:
        if "organization" in (case.path_parameters or {}):
            case.path_parameters["organization"] = target.org_id
        try:
            case.call_and_validate(base_url=target.url, headers=target.headers, timeout=30,
                                   checks=[not_a_server_error, response_schema_conformance])
        except (AssertionError, FailureGroup) as exc:  # a failed check, or several at once
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc).strip()[:1500]}")

    examples()
    return failures


def test_no_server_errors_and_documented_answers(fuzz_target: FuzzTarget) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzz_target.url}/openapi.json")
    fuzzed, failures = 0, []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.definition.raw.get("operationId") in EXCLUDED_OPERATIONS:
            continue
        fuzzed += 1
        failures += _fuzz(operation, fuzz_target)
    assert fuzzed >= 38, "every JSON operation is fuzzed"
    assert not failures, "\n\n".join(failures)
