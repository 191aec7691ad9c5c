"""Request and response models of the Organization endpoints."""

from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from amigo_api.core.schemas import ContractModel, StrippedNonemptyString
from amigo_api.organizations import images
from amigo_api.users.schemas import Preferences, UserDimension


class CreateOrganizationRequest(ContractModel):
    org_name: StrippedNonemptyString
    title: StrippedNonemptyString
    main_description: StrippedNonemptyString
    sub_description: StrippedNonemptyString
    user_dimensions: list[UserDimension]
    logo: Annotated[str, AfterValidator(images.check_logo), Field(json_schema_extra={"format": "base64"})]
    square_logo: Annotated[str, AfterValidator(images.check_square_logo),
                           Field(json_schema_extra={"format": "base64"})]
    favicon: Annotated[str, AfterValidator(images.check_favicon), Field(json_schema_extra={"format": "base64"})]
    signup_page_headshot: Annotated[str, AfterValidator(images.check_headshot),
                                    Field(json_schema_extra={"format": "base64"})]
    default_user_preferences: Preferences = Field(default_factory=Preferences)
    onboarding_instructions: list[StrippedNonemptyString]
    azure_devops_team_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20,
                                                             pattern=r"^[a-z-]+$")]


class CreateOrganizationResponse(ContractModel):
    org_id: str


class GetOrganizationResponse(ContractModel):
    org_id: str
    org_name: str
    title: str
    main_description: str
    sub_description: str
    onboarding_instructions: list[str]
    default_user_preferences: Preferences | None
    tenant_id: str | None
