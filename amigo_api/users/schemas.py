"""Request and response models of the User endpoints, and the preferences organizations give new users."""

import zoneinfo
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, EmailStr, Field, StringConstraints, field_validator

from amigo_api.core.schemas import ContractModel, StrippedNonemptyString

VariableName = Annotated[str, StringConstraints(min_length=1, pattern=r"^[a-z_][a-z0-9_]+$")]
_TIMEZONES = frozenset(zoneinfo.available_timezones())


def _timezone(value: str | None) -> str | None:
    if value is not None and value not in _TIMEZONES:
        raise ValueError(f"{value!r} is not an IANA time zone name")
    return value


Timezone = Annotated[str | None, AfterValidator(_timezone)]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^(\w{2}|[a-z]{3})$")]


class Preferences(ContractModel):
    """Preferences that the user can set to customize their experience."""

    enable_response_recommendation: bool = False
    preferred_language: LanguageCode | None = None
    conversations_visible_to_admins: bool = True
    user_model_visible_to_admins: bool = True
    timezone: Timezone = None
    audio_keyterms: list[str] = Field(default_factory=list)


class UserDimension(ContractModel):
    description: StrippedNonemptyString
    tags: list[StrippedNonemptyString]


class CreateInvitedUserRequest(ContractModel):
    first_name: StrippedNonemptyString
    last_name: StrippedNonemptyString
    email: EmailStr
    login_link: Annotated[str, StringConstraints(min_length=1, max_length=2083)] | None = None
    role_name: str
    nonsensitive_user_variables: Annotated[dict[VariableName, str], Field(max_length=19)] = Field(
        default_factory=dict)
    sensitive_user_variables: Annotated[dict[VariableName, str], Field(max_length=20)] = Field(
        default_factory=dict)
    user_preferences: Preferences | None = None

    @field_validator("login_link")
    @classmethod
    def _absolute_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("login_link must be an absolute http(s) URL")
        return value


class CreateInvitedUserResponse(ContractModel):
    user_id: str
    verify_link: str | None


class UserStats(ContractModel):
    num_conversations: int = 0
    num_messages: int = 0
    last_message_time: datetime | None = None


class UserInstance(ContractModel):
    org_id: str
    user_id: str
    first_name: str
    last_name: str
    email: str
    user_stats: UserStats
    role: str
    preferences: Preferences
    nonsensitive_variables: dict[str, str]
    sensitive_variables: list[str]
    enable_actions_access: bool = Field(description="Whether the user has access to the actions features.")


# `{}` (or leaving the field out) leaves a preference as it is; `null` erases it.
NotSet = Annotated[dict[str, Any], Field(max_length=0)]


class UpdateUserInfoRequest(ContractModel):
    first_name: StrippedNonemptyString | None = Field(None, max_length=256, description=(
        "The first name of the user to update. If `null`, the first name is not modified."))
    last_name: StrippedNonemptyString | None = Field(None, max_length=256, description=(
        "The last name of the user to update. If `null`, the last name is not modified."))
    enable_response_recommendation: bool | None = None
    preferred_language: LanguageCode | NotSet | None = Field(default_factory=dict, description=(
        "ISO 639-3; `null` erases the preference, `{}` or leaving it out keeps it."))
    timezone: Timezone | NotSet = Field(default_factory=dict, description=(
        "IANA time zone; `null` erases the preference, `{}` or leaving it out keeps it."))
    conversations_visible_to_admins: bool | None = None
    user_model_visible_to_admins: bool | None = None
    additional_context: list[Annotated[StrippedNonemptyString, StringConstraints(max_length=10_000)]] | None = Field(
        None, max_length=100, description="A list of additional context to update. If `null`, it is not modified.")


class UserModel(ContractModel):
    content: str
    insight_ids: list[str]
    dimensions: list[UserDimension]


class GetUserModelResponse(ContractModel):
    user_models: list[UserModel] = Field(description="The latest user models for the user.")
    additional_context: list[str] = Field(description="The additional context for the user.")


class GetUsersResponse(ContractModel):
    users: list[UserInstance]
    has_more: bool
    continuation_token: int | None
