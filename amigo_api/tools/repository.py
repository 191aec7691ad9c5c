"""MongoDB access for tools and their versions, with their stored shapes (the contract's `ToolInstance` and
`ToolVersionInstance`, plus what only the server sees: environment variable values and deletions)."""

from datetime import datetime
from typing import Any, NotRequired, TypedDict

from pymongo import ASCENDING, DESCENDING, IndexModel

from amigo_api.core.pagination import TagDocument
from amigo_api.core.repository import TypedRepository


class ToolDocument(TypedDict):
    _id: str
    name: str
    description: str
    deprecated: bool
    tags: list[TagDocument]
    tag_strings: list[str]  # `key:value` (`key:` for a null value): what tag filters and grant conditions match
    envvars: list[str]  # names, as ToolInstance shows them
    secret_envvars: list[str]
    envvar_values: dict[str, str]  # name -> value: configuration, never shown
    secret_envvar_values: dict[str, str]  # name -> value encrypted with the service's secret key
    deleted_envvars: dict[str, datetime]  # name -> when it was deleted (kept for the grace period)
    creator: dict[str, str]
    updated_by: dict[str, str]
    created_at: datetime
    updated_at: datetime


class VersionNumber(TypedDict):
    major: int
    minor: int
    patch: int


class ToolVersionDocument(TypedDict):
    """Written by publishing; read here for deprecation and for the environment variables versions need."""

    _id: str
    tool_id: str
    version: VersionNumber
    required_envvars: list[str]
    required_secret_envvars: list[str]
    input_schema: dict[str, Any]
    tool_commit_hash: str
    amigo_scaffold_commit_hash: str
    project_directory: str
    lambda_version: int  # our build number
    deprecated: bool
    creator: dict[str, str]  # the contract's ToolVersion UserInfo: `user_id`, `user_org_id`
    updated_by: dict[str, str]
    created_at: datetime
    updated_at: datetime
    publish_id: NotRequired[str]  # the publish workflow that recorded it (a retried record finds its own)
    entrypoint: NotRequired[str]  # what runs it: `module:function`, and the project folder's git tree id
    tree_id: NotRequired[str]


class ToolInvocationDocument(TypedDict):
    """The contract's `ToolInvocationInstance`, plus the version's id (for version filters)."""

    _id: str
    tool_id: str
    version_id: str
    tool_version: VersionNumber
    invocation_status: dict[str, Any]
    invocation_source: dict[str, Any]
    duration_ms: int
    inputs: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class ToolRepository(TypedRepository[ToolDocument]):
    collection_name = "tools"
    indexes = [
        # One non-deprecated tool per name, enforced by the database for concurrent creates.
        IndexModel([("org_id", ASCENDING), ("name", ASCENDING)], unique=True, name="active_tool_name",
                   partialFilterExpression={"deprecated": False}),
        IndexModel([("org_id", ASCENDING), ("tag_strings", ASCENDING)], name="tool_tags"),
    ]


class ToolVersionRepository(TypedRepository[ToolVersionDocument]):
    collection_name = "tool_versions"
    indexes = [IndexModel([("org_id", ASCENDING), ("tool_id", ASCENDING), ("deprecated", ASCENDING)],
                          name="tool_version_tool"),
               IndexModel([("org_id", ASCENDING), ("tool_id", ASCENDING), ("version.major", DESCENDING),
                           ("version.minor", DESCENDING), ("version.patch", DESCENDING)], name="tool_version_order")]

    async def using_envvar(self, tool_id: str, name: str) -> ToolVersionDocument | None:
        """A non-deprecated version of the tool that needs the variable."""
        return await self.load_one({"tool_id": tool_id, "deprecated": False,
                                    "$or": [{"required_envvars": name}, {"required_secret_envvars": name}]})


class ToolInvocationRepository(TypedRepository[ToolInvocationDocument]):
    collection_name = "tool_invocations"
    indexes = [
        IndexModel([("org_id", ASCENDING), ("created_at", DESCENDING)], name="tool_invocation_recent"),
        IndexModel([("org_id", ASCENDING), ("tool_id", ASCENDING), ("created_at", DESCENDING)],
                   name="tool_invocation_tool"),
    ]
