"""Rules for temporary permission grants: one extra grant for a user until it expires. Role comparisons
ignore them; they go with the user when the user is deleted."""

from collections.abc import Callable
from datetime import datetime, timedelta

from pymongo.asynchronous.client_session import AsyncClientSession

from amigo_api.core.auth import Principal
from amigo_api.core.clock import utcnow
from amigo_api.core.db import OrgDb
from amigo_api.core.errors import InvalidRequest, PermissionDenied
from amigo_api.core.ids import new_id
from amigo_api.core.pagination import and_all, next_token, parse_sort, tag_filters, tags_to_list, tags_to_strings
from amigo_api.core.permissions import PermissionGrant, role_covers, stored_grants
from amigo_api.core.references import register_user_cleanup
from amigo_api.core.schemas import duration_within
from amigo_api.roles import schemas as s
from amigo_api.roles.repository import TemporaryGrantDocument, TemporaryGrantRepository
from amigo_api.roles.service import check_permission_names
from amigo_api.users.service import get_user

MAX_TEMPORARY_GRANT = timedelta(days=30)
GRANT_FIELDS = {"user_id": "user_id", "permission_name": "permission_grant.permission_name",
                "tags": "tag_strings"}
GRANT_SORT = {"user_id": "user_id", "expires_at": "expires_at",
              "permission_grant.permission_name": "permission_grant.permission_name"}


async def active_grants(org: OrgDb, user_id: str, now: datetime) -> list[TemporaryGrantDocument]:
    return await TemporaryGrantRepository(org).active_for(user_id, now)


def grants_of(docs: list[TemporaryGrantDocument]) -> list[PermissionGrant]:
    return stored_grants(d["permission_grant"] for d in docs)


async def create_temporary_grant(org: OrgDb, principal: Principal, body: s.CreateTemporaryPermissionGrantRequest,
                                 on_change: Callable[[str], None]) -> s.CreateTemporaryPermissionGrantResponse:
    grant = body.permission_grant
    check_permission_names([grant])
    principal.require("Role:CreateTemporaryPermissionGrant",
                      {"user_id": body.user_id, "permission_name": grant.permission_name})
    if not role_covers(principal.role_grants, [grant]):
        raise PermissionDenied("A temporary grant can give only what the granter's own role allows.",
                               error_code="grant_exceeds_role")
    try:
        duration = duration_within(body.duration, timedelta(seconds=1), MAX_TEMPORARY_GRANT, "duration")
    except ValueError as exc:
        raise InvalidRequest(f"{exc}.", error_code="invalid_duration") from exc
    await get_user(org, body.user_id)
    now = utcnow()
    doc = TemporaryGrantDocument(
        _id=new_id(), user_id=body.user_id, permission_grant=grant.model_dump(), justification=body.justification,
        creator={"org_id": principal.issuer_org_id, "user_id": principal.user_id},
        tags=tags_to_list(body.tags),
        tag_strings=tags_to_strings(body.tags), expires_at=now + duration, created_at=now, updated_at=now)
    await TemporaryGrantRepository(org).store(doc)
    on_change(org.org_id)
    return s.CreateTemporaryPermissionGrantResponse(temporary_permission_grant_id=doc["_id"],
                                                    expires_at=doc["expires_at"])


async def list_temporary_grants(org: OrgDb, principal: Principal, *, ids: list[str], user_ids: list[str],
                                permission_name: str | None, is_expired: bool | None, creators: list[str],
                                tags: list[str], limit: int, continuation_token: int,
                                sort_by: list[str]) -> s.GetTemporaryPermissionGrantsResponse:
    sort = parse_sort(sort_by, GRANT_SORT)
    now = utcnow()
    creator_pairs = [c.split(",", 1) for c in creators]
    query = and_all(
        {"_id": {"$in": ids}} if ids else None,
        {"user_id": {"$in": user_ids}} if user_ids else None,
        {"permission_grant.permission_name": permission_name} if permission_name else None,
        None if is_expired is None else {"expires_at": {"$lte": now} if is_expired else {"$gt": now}},
        {"$or": [{"creator.org_id": p[0], "creator.user_id": p[-1]} for p in creator_pairs]} if creators else None,
        *tag_filters(tags),
        principal.visible("Role:GetTemporaryPermissionGrant", GRANT_FIELDS),
    )
    docs, has_more = await TemporaryGrantRepository(org).load_page(query, sort=sort, skip=continuation_token,
                                                                   limit=limit)
    grants = [s.TemporaryPermissionGrant.model_validate({**d, "tags": {t["key"]: t["value"] for t in d["tags"]}})
              for d in docs]
    return s.GetTemporaryPermissionGrantsResponse(
        temporary_permission_grants=grants, has_more=has_more,
        continuation_token=next_token(continuation_token, len(docs), has_more))


async def _delete_users_grants(org: OrgDb, session: AsyncClientSession, user_id: str) -> None:
    await TemporaryGrantRepository(org, session).delete_many({"user_id": user_id})


register_user_cleanup(_delete_users_grants)
