"""Request and response models of the API key endpoints and of sign-in."""

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from amigo_api.core.schemas import ContractModel, IsoDuration, UserInfo


class CreateAPIKeyRequest(ContractModel):
    name: Annotated[str, StringConstraints(min_length=1)] | None = Field(
        description="An optional name for the API key for easier identification by users.")
    duration: IsoDuration = Field(description="The valid duration of the API key, in ISO-8601; 1 to 90 days.")
    role_name: str = Field("DefaultAdministratorRole",
                           description="The name of the role associated with the key.")


class CreateAPIKeyResponse(ContractModel):
    api_key_id: str
    api_key: str
    expires_at: datetime


class APIKeyInstance(ContractModel):
    id: str = Field(alias="_id")
    name: str | None
    org_id: str
    created_at: datetime
    updated_at: datetime
    key_id: str
    expires_at: datetime
    creator: UserInfo
    role_id: str


class GetAPIKeysResponse(ContractModel):
    api_keys: list[APIKeyInstance]


class DeleteAPIKeyResponse(ContractModel):
    deleted_key_id: str


class SigninWithAPIKeyResponse(ContractModel):
    id_token: str
    expires_at: datetime
