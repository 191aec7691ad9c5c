"""Contract models of the simulation unit test endpoints."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from amigo_api.core.schemas import ContractModel, ObjectId, StrippedNonemptyString, Tag, Tags, UserInfo


class NumericalMetricSuccessCriterion(ContractModel):
    type: Literal["numerical"]
    verb: Literal["==", "!=", "<=", "<", ">=", ">"]
    threshold: float


class BooleanMetricSuccessCriterion(ContractModel):
    type: Literal["boolean"]
    expected_value: bool


class CategoricalMetricSuccessCriterion(ContractModel):
    type: Literal["categorical"]
    expected_values: Annotated[list[StrippedNonemptyString], Field(min_length=1)]


SuccessCriterionDescription = Annotated[
    NumericalMetricSuccessCriterion | BooleanMetricSuccessCriterion | CategoricalMetricSuccessCriterion,
    Field(discriminator="type")]


class SuccessCriterion(ContractModel):
    name: StrippedNonemptyString
    metric_id: ObjectId
    criterion: SuccessCriterionDescription


class CreateSimulationUnitTestRequest(ContractModel):
    name: StrippedNonemptyString
    description: StrippedNonemptyString
    service_id: ObjectId
    service_version_set_name: str
    persona_id: ObjectId
    scenario_id: ObjectId
    max_interactions: Annotated[int, Field(gt=0, le=100)]
    success_criterions: Annotated[list[SuccessCriterion], Field(min_length=1)]
    tags: Tags


class CreateSimulationUnitTestResponse(ContractModel):
    simulation_unit_test_id: str


class SimulationUnitTestInstance(ContractModel):
    id: str
    org_id: str
    created_at: datetime
    updated_at: datetime
    name: str
    description: str
    service_id: str
    service_version_set_name: str
    persona_id: str
    scenario_id: str
    max_interactions: int
    success_criterions: list[SuccessCriterion]
    is_deleted: bool
    tags: list[Tag]
    creator: UserInfo
    updated_by: UserInfo


class SimulationUnitTestFilterValues(ContractModel):
    creators: list[UserInfo]
    tags: list[str] = Field(description="The tag keys of the unit tests that match the other filters.")
    service_ids: list[str]
    persona_ids: list[str]
    scenario_ids: list[str]
    metric_ids: list[str]


class GetSimulationUnitTestsResponse(ContractModel):
    simulation_unit_tests: list[SimulationUnitTestInstance]
    has_more: bool
    continuation_token: int | None
    filter_values: SimulationUnitTestFilterValues | None
