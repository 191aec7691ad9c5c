"""Who may call the simulation unit test endpoints."""

from typing import Annotated

from fastapi import Depends

from amigo_api.core.auth import CurrentPrincipal, Principal, require

UnitTestCreator = Annotated[Principal, Depends(require("Simulation:CreateSimulationUnitTest"))]
UnitTestDeleter = Annotated[Principal, Depends(require("Simulation:DeleteSimulationUnitTest"))]
# The list narrows its results to the unit tests the caller holds `Simulation:GetSimulationUnitTest` for.
UnitTestLister = CurrentPrincipal
