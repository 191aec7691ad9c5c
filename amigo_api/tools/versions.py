"""Rules for reading and deprecating tool versions (publishing creates them). Version filters are PEP 440
specifiers, matched against each version `major.minor.patch` with `packaging`."""


from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from pymongo.asynchronous.client_session import AsyncClientSession

from amigo_api.core.auth import Principal
from amigo_api.core.clock import utcnow
from amigo_api.core.db import Document, OrgDb, in_transaction
from amigo_api.core.errors import InvalidRequest, NotFound
from amigo_api.core.ids import new_id
from amigo_api.core.pagination import QueryValidationError, and_all, next_token, parse_sort
from amigo_api.core.sql_tables import (
    BOOLEAN,
    INTEGER,
    TEXT,
    TEXT_LIST,
    TIMESTAMP,
    TOOL_USER_INFO,
    VERSION_NUMBER,
    Column,
    SqlTable,
    register_table,
)
from amigo_api.tools import schemas as s
from amigo_api.tools.publish_workflow import BuiltProject, PublishJob, PublishSource
from amigo_api.tools.repository import ToolRepository, ToolVersionDocument, ToolVersionRepository, VersionNumber
from amigo_api.tools.service import get_tool, tool_attributes

VERSION_SORT = {"created_at": "created_at", "version.major": "version.major", "version.minor": "version.minor",
                "version.patch": "version.patch", "deprecated": "deprecated"}


def parse_specifier(text: str) -> SpecifierSet:
    """422 with the reason for a malformed specifier."""
    try:
        return SpecifierSet(text)
    except InvalidSpecifier as exc:
        raise QueryValidationError(f"{text!r} is not a PEP 440 version specifier ({exc}); for example "
                                   "`==1.2.0`, `>=1,<2` or `~=1.4`.") from exc


async def matching_ids(org: OrgDb, tool_id: str, specifier: SpecifierSet, query: Document) -> list[str]:
    """The ids of the tool's versions the specifier matches (one version number each, so this reads little)."""
    docs = await ToolVersionRepository(org).find_all({**query, "tool_id": tool_id}, projection={"version": 1})
    return [d["_id"] for d in docs
            if specifier.contains(Version(f"{d['version']['major']}.{d['version']['minor']}.{d['version']['patch']}"))]


def _creator_filter(creators: list[str]) -> Document | None:
    if not creators:
        return None
    pairs = [c.split(",", 1) for c in creators]
    if any(len(pair) != 2 or not all(pair) for pair in pairs):
        raise QueryValidationError("Each creator is `org_id,user_id`.")
    return {"$or": [{"creator.user_org_id": org_id, "creator.user_id": user_id} for org_id, user_id in pairs]}


def _instance(doc: ToolVersionDocument, org_id: str) -> s.ToolVersionInstance:
    return s.ToolVersionInstance.model_validate({**doc, "id": doc["_id"], "org_id": org_id})


async def list_versions(org: OrgDb, tool_id: str, *, deprecated: bool | None, versions: str | None,
                        creators: list[str], sort_by: list[str], limit: int, continuation_token: int
                        ) -> s.GetToolVersionsResponse:
    await get_tool(org, tool_id)
    sort = parse_sort(sort_by, VERSION_SORT)
    query = and_all({"tool_id": tool_id}, None if deprecated is None else {"deprecated": deprecated},
                    _creator_filter(creators))
    if versions is not None:
        query = and_all(query, {"_id": {"$in": await matching_ids(org, tool_id, parse_specifier(versions), query)}})
    repository = ToolVersionRepository(org)
    docs, has_more = await repository.load_page(query, sort=sort, skip=continuation_token, limit=limit)
    filter_values = None
    if continuation_token == 0:  # over all the tool's versions
        creators_seen = await repository.distinct("creator", {"tool_id": tool_id})
        filter_values = s.ToolVersionFilterValues(creators=[
            s.ToolVersionUserInfo.model_validate(c) for c in sorted(creators_seen, key=lambda c: sorted(c.items()))])
    return s.GetToolVersionsResponse(
        tool_versions=[_instance(d, org.org_id) for d in docs], has_more=has_more,
        continuation_token=next_token(continuation_token, len(docs), has_more), filter_values=filter_values)


async def deprecate_versions(org: OrgDb, principal: Principal, tool_id: str, versions: str) -> int:
    """Every version of the tool the specifier matches; how many changed."""
    specifier = parse_specifier(versions)
    principal.require("Tool:ModifyTool", tool_attributes(await get_tool(org, tool_id)))
    ids = await matching_ids(org, tool_id, specifier, {"deprecated": False})
    if not ids:
        return 0
    return await ToolVersionRepository(org).update_many({"_id": {"$in": ids}, "deprecated": False}, {"$set": {
        "deprecated": True, "updated_at": utcnow(),
        "updated_by": {"user_id": principal.user_id, "user_org_id": principal.issuer_org_id}}})


register_table(SqlTable("tool_versions", ToolVersionRepository.collection_name, {
    "tool_version_id": Column(TEXT, "_id"), "tool_id": TEXT, "version": VERSION_NUMBER,
    "required_envvars": TEXT_LIST, "required_secret_envvars": TEXT_LIST, "tool_commit_hash": TEXT,
    "amigo_scaffold_commit_hash": TEXT, "project_directory": TEXT, "lambda_version": INTEGER, "deprecated": BOOLEAN,
    "creator": TOOL_USER_INFO, "updated_by": TOOL_USER_INFO, "created_at": TIMESTAMP, "updated_at": TIMESTAMP}))


# Publishing -------------------------------------------------------------------------------------------

MAX_ACTIVE_VERSIONS = 3
NEWEST_FIRST = [("version.major", -1), ("version.minor", -1), ("version.patch", -1)]


async def last_commit(org: OrgDb, tool_id: str) -> str | None:
    """The commit of the most recently published version (deprecated ones included)."""
    docs, _ = await ToolVersionRepository(org).find_page({"tool_id": tool_id}, sort=[("created_at", -1)], skip=0,
                                                         limit=1, projection={"tool_commit_hash": 1})
    return docs[0]["tool_commit_hash"] if docs else None


async def check_can_add(org: OrgDb, tool_id: str, bump_type: str, *, first: bool,
                        session: AsyncClientSession | None = None) -> None:
    if first and bump_type != "major":
        raise InvalidRequest("The first version of a tool must be published with `bump_type` `major`.",
                             error_code="first_version_not_major")
    active = await ToolVersionRepository(org, session).count({"tool_id": tool_id, "deprecated": False})
    if active >= MAX_ACTIVE_VERSIONS:
        raise InvalidRequest(f"The tool has {MAX_ACTIVE_VERSIONS} non-deprecated versions already: deprecate one "
                             "(DELETE /v1/{organization}/tool/{tool_id}/version/{versions}) first.",
                             error_code="too_many_versions")


def bumped(highest: VersionNumber | None, bump_type: str) -> VersionNumber:
    if highest is None:
        return VersionNumber(major=1, minor=0, patch=0)
    major, minor, patch = highest["major"], highest["minor"], highest["patch"]
    if bump_type == "major":
        return VersionNumber(major=major + 1, minor=0, patch=0)
    if bump_type == "minor":
        return VersionNumber(major=major, minor=minor + 1, patch=0)
    return VersionNumber(major=major, minor=minor, patch=patch + 1)


def version_text(number: VersionNumber) -> str:
    return f"{number['major']}.{number['minor']}.{number['patch']}"


async def record_version(org: OrgDb, job: PublishJob, source: PublishSource, built: BuiltProject) -> str:
    """The new version, numbered from the tool's highest one; a retry of the same publish finds its own."""
    async def write(session: AsyncClientSession) -> str:
        repository = ToolVersionRepository(org, session)
        mine = await repository.load_one({"tool_id": job.tool_id, "publish_id": job.lock_owner})
        if mine is not None:
            return version_text(mine["version"])
        tool = await ToolRepository(org, session).claim({"_id": job.tool_id, "deprecated": False})
        if tool is None:
            raise NotFound("The specified tool does not exist or was deprecated meanwhile.",
                           error_code="tool_not_found")
        highest, _ = await repository.load_page({"tool_id": job.tool_id}, sort=NEWEST_FIRST, skip=0, limit=1)
        await check_can_add(org, job.tool_id, job.bump_type, first=not highest, session=session)
        number = bumped(highest[0]["version"] if highest else None, job.bump_type)
        now, user = utcnow(), {"user_id": job.user_id, "user_org_id": job.user_org_id}
        await repository.store(ToolVersionDocument(
            _id=new_id(), tool_id=job.tool_id, version=number, required_envvars=source.envvars,
            required_secret_envvars=source.secret_envvars, input_schema=built.input_schema,
            tool_commit_hash=source.commit, amigo_scaffold_commit_hash=source.scaffold_release,
            project_directory=job.project_path, lambda_version=await repository.count({"tool_id": job.tool_id}) + 1,
            deprecated=False, creator=user, updated_by=user, created_at=now, updated_at=now,
            publish_id=job.lock_owner, entrypoint=source.entrypoint, tree_id=source.tree_id))
        return version_text(number)

    return await in_transaction(org, write)


# Running ----------------------------------------------------------------------------------------------

def _as_specifier(text: str) -> SpecifierSet:
    """An exact version (`1.2.0`) or a PEP 440 specifier (`>=1,<2`)."""
    try:
        return SpecifierSet(f"=={Version(text)}")
    except InvalidVersion:
        return parse_specifier(text)


async def runnable_version(org: OrgDb, tool_id: str, text: str) -> ToolVersionDocument:
    """The highest non-deprecated version of the tool that `text` names; 404 when none does."""
    specifier = _as_specifier(text)
    candidates = await ToolVersionRepository(org).load_all({"tool_id": tool_id, "deprecated": False},
                                                           sort=NEWEST_FIRST)
    for doc in candidates:
        if specifier.contains(Version(version_text(doc["version"]))):
            return doc
    raise NotFound(f"The tool has no non-deprecated version matching {text!r}.", error_code="tool_version_not_found")
