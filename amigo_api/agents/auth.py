"""Who may call the agent and state machine endpoints."""

from typing import Annotated

from fastapi import Depends

from amigo_api.agents.service import AGENT, STATE_MACHINE
from amigo_api.core.auth import CurrentPrincipal, Principal, require

AgentCreator = Annotated[Principal, Depends(require(AGENT.create_permission))]
AgentVersionCreator = Annotated[Principal, Depends(require(AGENT.version_permission))]
AgentDeleter = Annotated[Principal, Depends(require(AGENT.delete_permission))]
MachineCreator = Annotated[Principal, Depends(require(STATE_MACHINE.create_permission))]
MachineVersionCreator = Annotated[Principal, Depends(require(STATE_MACHINE.version_permission))]
MachineDeleter = Annotated[Principal, Depends(require(STATE_MACHINE.delete_permission))]
# Lists narrow their results to what the caller holds `Organization:GetAgent` /
# `Organization:GetServiceHierarchicalStateMachine` for; reading versions checks the same on the definition.
DefinitionReader = CurrentPrincipal
