"""Models of the tool repository read endpoints (paths fixed by ARCHITECTURE.md; not in the public spec)."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from amigo_api.core.schemas import ContractModel, UserInfo


class Signature(ContractModel):
    name: str
    email: str
    timestamp: datetime


class ChangedFile(ContractModel):
    path: str
    previous_path: str | None = Field(description="For a rename or copy, the path before it.")
    status: Literal["added", "deleted", "modified", "renamed", "copied", "type_changed"]
    additions: int | None = None
    deletions: int | None = None


class CommitInstance(ContractModel):
    sha: str
    message: str
    author: Signature
    committer: Signature
    timestamp: datetime = Field(description="The commit time.")
    parent_shas: list[str]
    changed_files: list[ChangedFile] | None = Field(
        None, description="Only with `include_changed_files` or `include_stats`; against the first parent.")


class DirectoryEntry(ContractModel):
    name: str
    path: str
    type: Literal["file", "directory", "symlink", "submodule"]
    size: int | None = Field(description="Bytes, for files and symlinks.")
    last_commit: CommitInstance | None = Field(None, description="Only with `include_last_commit`.")


class DirectoryResponse(ContractModel):
    path: str
    sha: str = Field(description="The commit the ref resolved to.")
    entries: list[DirectoryEntry]


class GetFilesRequest(ContractModel):
    ref: str = Field("main", min_length=1, description="A branch name or a commit SHA.")
    paths: list[str] = Field(min_length=1, max_length=100, description="Repository-relative file paths.")


class FileContent(ContractModel):
    path: str
    size: int
    encoding: Literal["utf-8", "base64"] = Field(description="`utf-8` text, or `base64` for other bytes.")
    content: str


class GetFilesResponse(ContractModel):
    sha: str
    files: list[FileContent]


class GetCommitsResponse(ContractModel):
    commits: list[CommitInstance]
    has_more: bool
    continuation_token: int | None


class BranchSummary(ContractModel):
    name: str
    sha: str
    message: str
    timestamp: datetime


class BranchResponse(BranchSummary):
    committer: UserInfo | None = Field(description="The Amigo user who pushed the tip through the git endpoint; "
                                                   "null when the tip was made outside it.")


class GetBranchesResponse(ContractModel):
    branches: list[BranchSummary]
    has_more: bool
    continuation_token: int | None
