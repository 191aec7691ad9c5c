"""The official `amigo-sdk` (from PyPI, unmodified) drives agents, context graphs and services on a live server."""

from pathlib import Path

import pytest
from amigo_sdk import AsyncAmigoClient
from amigo_sdk.errors import ConflictError, NotFoundError
from amigo_sdk.generated.model import (
    GetAgentVersionsParametersQuery,
    GetServicesParametersQuery,
    GetUsersParametersQuery,
    OrganizationCreateAgentRequest,
    OrganizationCreateAgentVersionRequest,
    OrganizationCreateServiceHierarchicalStateMachineRequest,
    OrganizationCreateServiceHierarchicalStateMachineVersionRequest,
    ServiceCreateServiceRequest,
    ServiceUpdateServiceRequest,
    ServiceUpsertServiceVersionSetRequest,
    UserCreateInvitedUserRequest,
    UserUpdateUserInfoRequest,
)

from amigo_api.settings import Settings
from tests.builders import AGENT_VERSION, service_body, state_machine_body
from tests.conftest import Caller
from tests.live import live_api


@pytest.fixture
def live_url(settings: Settings, tmp_path: Path) -> str:  # type: ignore[misc]
    with live_api(settings, tmp_path, "api-sdk", AMIGO_RATE_LIMIT_SCALE="10") as url:
        yield url


async def test_the_official_sdk_drives_agents_context_graphs_and_services(live_url: str, admin: Caller) -> None:
    async with AsyncAmigoClient(api_key=admin.api_key, api_key_id=admin.api_key_id, user_id=admin.user_id,
                                organization_id=admin.org_id, base_url=live_url) as sdk:
        agent = await sdk.agents.create_agent(OrganizationCreateAgentRequest(agent_name="SDK coach"))
        with pytest.raises(ConflictError):
            await sdk.agents.create_agent(OrganizationCreateAgentRequest(agent_name="SDK coach"))
        version = await sdk.agents.create_agent_version(
            agent.id, OrganizationCreateAgentVersionRequest.model_validate(AGENT_VERSION), version=1)
        assert version.version == 1
        await sdk.agents.create_agent_version(
            agent.id, OrganizationCreateAgentVersionRequest.model_validate({"background": "Calmer."}))
        agents = await sdk.agents.get_agents()
        assert [(a.id, a.latest_version) for a in agents.agents] == [(agent.id, 2)]
        versions = await sdk.agents.get_agent_versions(agent.id, GetAgentVersionsParametersQuery(version="latest"))
        assert versions.agent_versions[0].background == "Calmer."
        assert versions.agent_versions[0].identity.default_spoken_language == "eng"

        graph = await sdk.context_graphs.create_context_graph(
            OrganizationCreateServiceHierarchicalStateMachineRequest(state_machine_name="SDK flow"))
        graph_version = await sdk.context_graphs.create_context_graph_version(
            graph.id, OrganizationCreateServiceHierarchicalStateMachineVersionRequest.model_validate(
                state_machine_body()))
        assert graph_version.version == 1
        graph_versions = await sdk.context_graphs.get_context_graph_versions(graph.id)
        assert graph_versions.state_machine_versions[0].terminal_state == "end"
        graphs = await sdk.context_graphs.get_context_graphs()
        assert graphs.service_hierarchical_state_machines[0].latest_version == 1

        # The SDK's request models cannot hold tags (its tag keys are unhashable models), so none are sent.
        created = await sdk.services.create_service(ServiceCreateServiceRequest.model_validate(
            service_body(agent.id, graph.id, "SDK service")))
        canary = ServiceUpsertServiceVersionSetRequest.model_validate(
            {"version_set": {"agent_version_number": 1, "service_hierarchical_state_machine_version_number": None,
                             "llm_model_preferences": {"engage_user": {"llm_name": "openai_gpt-5.5-2026-04-23",
                                                                       "params": {"temperature": 0.2}}}}})
        await sdk.services.upsert_version_set(created.id, "canary", canary)
        await sdk.services.update_service(created.id, ServiceUpdateServiceRequest(description="Via the SDK."))
        listed = await sdk.services.get_services(GetServicesParametersQuery(is_active=True))
        service = listed.services[0]
        assert (service.id, service.description) == (created.id, "Via the SDK.")
        assert set(service.version_sets) == {"edge", "release", "canary"}
        assert service.version_sets["canary"].agent_version_number == 1
        assert listed.filter_values is not None and listed.filter_values.tags == []
        await sdk.services.delete_version_set(created.id, "canary")
        with pytest.raises(ConflictError):
            await sdk.services.create_service(ServiceCreateServiceRequest.model_validate(
                service_body(agent.id, graph.id, "SDK service")))

        with pytest.raises(NotFoundError) as unknown:
            await sdk.agents.delete_agent("not-an-object-id")
        assert unknown.value.status_code == 404
        await sdk.services.update_service(created.id, ServiceUpdateServiceRequest(is_active=False))
        await sdk.agents.delete_agent(agent.id)
        assert (await sdk.agents.get_agents()).agents[0].deprecated is True


async def test_the_official_sdk_reads_and_manages_users(live_url: str, admin: Caller, make_caller) -> None:  # type: ignore[no-untyped-def]
    member: Caller = await make_caller(admin.org_id, "DefaultUserRole")
    async with AsyncAmigoClient(api_key=admin.api_key, api_key_id=admin.api_key_id, user_id=admin.user_id,
                                organization_id=admin.org_id, base_url=live_url) as sdk:
        organization = await sdk.organizations.get()
        assert organization.org_id == admin.org_id
        invited = await sdk.users.create_user(UserCreateInvitedUserRequest(
            first_name="Grace", last_name="Hopper", email="grace@example.com", role_name="DefaultUserRole"))
        listed = await sdk.users.get_users(GetUsersParametersQuery(user_id=[invited.user_id]))
        assert [(u.first_name, u.enable_actions_access) for u in listed.users] == [("Grace", False)]
        member_before = (await sdk.users.get_users(GetUsersParametersQuery(user_id=[member.user_id]))).users[0]
        await sdk.users.update_user(member.user_id, UserUpdateUserInfoRequest(
            first_name="Ada", preferred_language="fra", additional_context=["Prefers mornings."]))
        updated = (await sdk.users.get_users(GetUsersParametersQuery(user_id=[member.user_id]))).users[0]
        assert (updated.first_name, updated.last_name, updated.preferences.preferred_language) == \
               ("Ada", member_before.last_name, "fra")
        model = await sdk.users.get_user_model(member.user_id)
        assert model.user_models == [] and model.additional_context == ["Prefers mornings."]
        await sdk.users.delete_user(invited.user_id)
        assert (await sdk.users.get_users(GetUsersParametersQuery(user_id=[invited.user_id]))).users == []
        with pytest.raises(NotFoundError):
            await sdk.users.delete_user(invited.user_id)
