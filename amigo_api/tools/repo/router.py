"""HTTP endpoints of the tool repository: the git interface and the read endpoints (tag Tool)."""

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Request, Response

from amigo_api.core.db import OrgDbDep
from amigo_api.core.openapi import error_responses
from amigo_api.core.ratelimit import rate_limit
from amigo_api.core.request_guard import streamed_body
from amigo_api.core.routing import domain_router
from amigo_api.core.state import AppSettings, from_app_state
from amigo_api.tools.repo import schemas as s
from amigo_api.tools.repo import service
from amigo_api.tools.repo.auth import GitUser, RepoReader
from amigo_api.tools.repo.git_http import GitBackend
from amigo_api.tools.repo.storage import DEFAULT_BRANCH, RepoStore

router = domain_router("/v1/{organization}/tool", tags=["Tool"])

Store = Annotated[RepoStore, Depends(from_app_state("repo_store", RepoStore))]
Backend = Annotated[GitBackend, Depends(from_app_state("git_backend", GitBackend))]
Ref = Annotated[str, Query(min_length=1, max_length=255, description="The name of a branch or a commit SHA to view.")]
Page = Annotated[int, Query(ge=1, le=1_000_000, description="The 1-based page to return.")]
GIT_LIMIT = 600
NOT_FOUND = "The specified organization, file, or ref is not found."


async def _git(request: Request, org: OrgDbDep, git_path: str, principal: GitUser, backend: Backend) -> Response:
    """Access the underlying tool repo for this organization through the standard Git interface (smart HTTP,
    protocol v2 or v0). Use `http://{org_id}_{user_id}:{jwt}@host/v1/{org_id}/tool/git/` as the remote."""
    return await backend.serve(request, org.org_id, git_path, principal.user_id,
                               service.push_recorder(org, principal))


for _method in ("get", "post"):
    router.add_api_route(
        "/git/{git_path:path}", _git, methods=[_method.upper()], operation_id=f"access-git-interface-{_method}",
        summary="Access the Git interface of the tool repo.", response_class=Response, openapi_extra=streamed_body(),
        dependencies=[rate_limit(GIT_LIMIT)],
        responses={200: {"description": "Successful Response"},
                   **error_responses(r404=NOT_FOUND)})


@router.get("/repo/file", operation_id="get-tool-repo-file", summary="Get the raw content of a file in the tool "
            "repository", response_class=Response, dependencies=[rate_limit(50)],
            responses={200: {"content": {"application/octet-stream": {}}},
                       **error_responses(r404=NOT_FOUND,
                                         r400="The path is a directory, or leads outside the repository.")})
async def get_file(org: OrgDbDep, _: RepoReader, store: Store, path: Annotated[str, Query(min_length=1)],
                   ref: Ref = DEFAULT_BRANCH) -> Response:
    data = await service.read_file(store, org.org_id, ref, path)
    return Response(data, media_type="application/octet-stream")


@router.get("/repo/directory", operation_id="get-tool-repo-directory", summary="Get a directory inside the tool "
            "repository", response_model=s.DirectoryResponse, dependencies=[rate_limit(60)],
            responses=error_responses(r404="The specified organization, directory, or ref does not exist.",
                                      r400="The specified path is a file, not a directory."))
async def get_directory(org: OrgDbDep, _: RepoReader, store: Store, path: str = "", ref: Ref = DEFAULT_BRANCH,
                        include_last_commit: bool = False) -> s.DirectoryResponse:
    """With `include_last_commit`, each entry carries the newest commit that changed it (slower)."""
    return await service.read_directory(store, org.org_id, ref, path, include_last_commit)


@router.post("/repo/files", operation_id="get-tool-repo-files", summary="Get several files of the tool repository",
             response_model=s.GetFilesResponse, dependencies=[rate_limit(60)],
             responses=error_responses(r404="The specified organization, file, or ref does not exist.",
                                       r400="One or more specified paths are not files."))
async def get_files(org: OrgDbDep, _: RepoReader, store: Store, body: s.GetFilesRequest) -> s.GetFilesResponse:
    """Text comes back as `utf-8`, other bytes as `base64`; both are byte-exact."""
    return await service.read_files(store, org.org_id, body)


@router.get("/repo/commits", operation_id="get-tool-repo-commits", summary="Get commits of the tool repository",
            response_model=s.GetCommitsResponse, dependencies=[rate_limit(60)],
            responses=error_responses(r404=NOT_FOUND,
                                      r400="The page lies deeper in the history than this server walks."))
async def get_commits(
    org: OrgDbDep, _: RepoReader, store: Store, settings: AppSettings, ref: Ref = DEFAULT_BRANCH,
    path: str | None = None, since: datetime | None = None, until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    continuation_token: Page = 1, include_changed_files: bool = False, include_stats: bool = False,
) -> s.GetCommitsResponse:
    """The ref and its ancestors, newest first; `path` keeps commits that changed it or its children."""
    return await service.list_commits(store, org.org_id, ref=ref, path=path, since=since, until=until, limit=limit,
                                      page=continuation_token, include_changed_files=include_changed_files,
                                      include_stats=include_stats, max_commits=settings.git_history_max_commits)


@router.get("/repo/branches/{branch:path}", operation_id="get-tool-repo-branch", summary="Get a branch of the "
            "tool repository", response_model=s.BranchResponse, dependencies=[rate_limit(60)],
            responses=error_responses(r404="The specified organization or branch does not exist."))
async def get_branch(org: OrgDbDep, _: RepoReader, store: Store, branch: str) -> s.BranchResponse:
    """`committer` is the Amigo user who pushed the tip through the git endpoint, or null if unknown."""
    return await service.get_branch(org, store, branch)


@router.get("/repo/branches", operation_id="get-tool-repo-branches", summary="Get branches of the tool repository",
            response_model=s.GetBranchesResponse, dependencies=[rate_limit(60)],
            responses=error_responses(r404="The specified organization does not exist."))
async def get_branches(org: OrgDbDep, _: RepoReader, store: Store, limit: Annotated[int, Query(ge=1, le=100)] = 20,
                       continuation_token: Page = 1) -> s.GetBranchesResponse:
    return await service.list_branches(store, org.org_id, limit, continuation_token)
