"""A tool project's `[tool.amigo]` table (the scaffold's format, docs/tools.md) and what it requires of the
tool it is published to."""

import re
import tomllib
from dataclasses import dataclass
from typing import Any

import pygit2

from amigo_api.core.errors import InvalidRequest, NotFound
from amigo_api.tools.repo.reader import has_branch, open_repository, resolve
from amigo_api.tools.repo.storage import RepoStore
from amigo_api.tools.repository import ToolDocument

ENTRYPOINT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$")
ENVVAR = re.compile(r"^[A-Z_][A-Z0-9_]*$")
RELEASE = re.compile(r"^[0-9a-f]{40}$")


class InvalidProject(InvalidRequest):
    error_code = "invalid_tool_project"


@dataclass(frozen=True)
class ProjectConfig:
    entrypoint: str
    envvars: list[str]
    secret_envvars: list[str]
    scaffold_release: str


def _names(table: dict[str, Any], key: str) -> list[str]:
    names = table.get(key, [])
    if not isinstance(names, list) or not all(isinstance(n, str) and ENVVAR.match(n) for n in names):
        raise InvalidProject(f"`[tool.amigo] {key}` must be a list of variable names matching "
                             f"{ENVVAR.pattern}.")
    return sorted(set(names))


def parse_project(pyproject: bytes) -> ProjectConfig:
    """The `[tool.amigo]` table of pyproject.toml, or 400 naming what is wrong."""
    try:
        document = tomllib.loads(pyproject.decode())
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InvalidProject(f"pyproject.toml cannot be read: {exc}.") from exc
    table = document.get("tool", {}).get("amigo") if isinstance(document.get("tool"), dict) else None
    if not isinstance(table, dict):
        raise InvalidProject("pyproject.toml has no `[tool.amigo]` table: start from the tool scaffold "
                             "(GET /v1/{organization}/tool/amigo_tool_scaffold.tar.gz).")
    entrypoint = table.get("entrypoint")
    if not isinstance(entrypoint, str) or not ENTRYPOINT.match(entrypoint):
        raise InvalidProject("`[tool.amigo] entrypoint` must be `module:function`, e.g. `tool:run`.")
    release = table.get("scaffold_release", "")
    if not isinstance(release, str) or (release and not RELEASE.match(release)):
        raise InvalidProject("`[tool.amigo] scaffold_release` must be the 40-character scaffold release hash.")
    envvars, secret = _names(table, "envvars"), _names(table, "secret_envvars")
    both = sorted(set(envvars) & set(secret))
    if both:
        raise InvalidProject(f"Variables may not be both plain and secret: {', '.join(both)}.")
    return ProjectConfig(entrypoint, envvars, secret, release)


def check_variables(config: ProjectConfig, tool: ToolDocument) -> None:
    """Every variable the project reads must be on the tool, secret on both sides or plain on both."""
    problems = []
    for name in config.envvars:
        if name in tool["secret_envvars"]:
            problems.append(f"{name} is secret on the tool but plain in the project")
        elif name not in tool["envvars"]:
            problems.append(f"{name} is not on the tool")
    for name in config.secret_envvars:
        if name in tool["envvars"]:
            problems.append(f"{name} is plain on the tool but secret in the project")
        elif name not in tool["secret_envvars"]:
            problems.append(f"{name} (secret) is not on the tool")
    if problems:
        raise InvalidRequest(f"The environment variables the version needs do not match the tool: "
                             f"{'; '.join(problems)}. Add them with POST /v1/{{organization}}/tool/{{tool_id}}/envvar.",
                             error_code="envvars_missing")


@dataclass(frozen=True)
class ProjectSource:
    """A project as one commit has it: the commit, the project folder's tree id, and its pyproject.toml."""

    commit: str
    tree_id: str
    pyproject: bytes


def branch_tip(store: RepoStore, org_id: str, branch: str) -> tuple[pygit2.Repository, pygit2.Commit]:
    """The organization's repository and the tip of the branch (404 when either is missing)."""
    path = store.path(org_id)
    if not (path / "HEAD").exists():
        raise NotFound("The tool repository is empty: push the project first.", error_code="repository_empty")
    repo = open_repository(path)
    if not has_branch(repo, branch):
        if not list(repo.references):
            raise NotFound("The tool repository is empty: push the project first.", error_code="repository_empty")
        raise NotFound(f"The branch {branch!r} does not exist in the tool repository.", error_code="ref_not_found")
    return repo, repo.references[f"refs/heads/{branch}"].peel(pygit2.Commit)


def project_at(repo: pygit2.Repository, commit: pygit2.Commit, project_path: str) -> ProjectSource:
    """The project folder at the commit; 404 when it is missing or has no pyproject.toml."""
    entry = resolve(repo, commit, project_path)
    pyproject = entry.obj["pyproject.toml"] if isinstance(entry.obj, pygit2.Tree) and "pyproject.toml" in entry.obj \
        else None
    blob = repo[pyproject.id] if pyproject is not None else None
    if not isinstance(blob, pygit2.Blob):
        raise NotFound(f"There is no pyproject.toml in {project_path!r} at {commit.id}.",
                       error_code="project_not_found")
    return ProjectSource(str(commit.id), str(entry.obj.id), blob.data)
