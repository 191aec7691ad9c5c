"""Shared pydantic building blocks for contract schemas."""

from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from amigo_api.core.clock import parse_iso_duration
from amigo_api.core.ids import OBJECT_ID_PATTERN

StrippedNonemptyString = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
ObjectId = Annotated[str, StringConstraints(pattern=OBJECT_ID_PATTERN)]
# Counts and version numbers clients send: bounded so that every one fits a BSON integer.
MAX_COUNT = 2**31 - 1
PositiveCount = Annotated[int, Field(gt=0, le=MAX_COUNT)]
TagKey = Annotated[str, StringConstraints(min_length=1, pattern=r"^[\w\s]+$")]
TagValue = Annotated[str, StringConstraints(min_length=1, pattern=r"^[\w\s]+$")]
Tags = Annotated[dict[TagKey, TagValue | None], Field(max_length=20)]


def _duration_text(value: str) -> str:
    parse_iso_duration(value)
    return value


IsoDuration = Annotated[str, AfterValidator(_duration_text), Field(json_schema_extra={"format": "duration"})]


def duration_within(text: str, low: timedelta, high: timedelta, what: str) -> timedelta:
    value = parse_iso_duration(text)
    if not low <= value <= high:
        raise ValueError(f"{what} must be between {low.days} and {high.days} days")
    return value


def has_control_characters(text: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


class ContractModel(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class UserInfo(ContractModel):
    org_id: str
    user_id: str



class Tag(ContractModel):
    key: str
    value: str | None
