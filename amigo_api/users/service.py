"""Rules for users: inviting, listing, updating and deleting them, their user model, and their role."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from amigo_api.core.auth import Principal
from amigo_api.core.clock import utcnow
from amigo_api.core.crypto import SecretBox
from amigo_api.core.db import Document, OrgDb, in_transaction
from amigo_api.core.errors import AmigoError, Conflict, NotFound, PermissionDenied, found
from amigo_api.core.ids import new_id
from amigo_api.core.pagination import and_all, next_token, parse_sort
from amigo_api.core.references import RoleHolders, clean_up_user, register_role_holders
from amigo_api.core.sql_tables import INTEGER, JSON, TEXT, TIMESTAMP, Column, SqlTable, Struct, register_table
from amigo_api.organizations import service as organizations
from amigo_api.roles import service as roles
from amigo_api.settings import Settings
from amigo_api.users import mailer
from amigo_api.users import schemas as s
from amigo_api.users.repository import UserDocument, UserRepository

log = structlog.get_logger(__name__)

USER_FIELDS = {"user_id": "_id", "email": "email", "role_id": "role_id"}
USER_SORT = {"first_name": "first_name", "last_name": "last_name", "email": "email",
             "user_stats.num_conversations": "user_stats.num_conversations",
             "user_stats.num_messages": "user_stats.num_messages",
             "user_stats.last_message_time": "user_stats.last_message_time"}
_PREFERENCES = ("enable_response_recommendation", "conversations_visible_to_admins", "user_model_visible_to_admins")


class EmailDeliveryFailed(AmigoError):
    status_code = 502
    error_code = "email_delivery_failed"
    detail = "The invitation email could not be sent; the user was not created. Check SMTP and try again."


async def ensure_indexes(db: Any) -> None:
    await UserRepository.ensure_indexes(db)


def new_user_document(*, first_name: str, last_name: str, email: str, role_id: str, preferences: dict[str, Any],
                      now: datetime, nonsensitive: dict[str, str] | None = None,
                      sensitive: dict[str, str] | None = None) -> UserDocument:
    return UserDocument(
        _id=new_id(), first_name=first_name, last_name=last_name, email=email.lower(), role_id=role_id,
        preferences=preferences, nonsensitive_variables=nonsensitive or {}, sensitive_variables=sensitive or {},
        status="unverified", enable_actions_access=False, additional_context=[],
        user_stats={"num_conversations": 0, "num_messages": 0, "last_message_time": None},
        created_at=now, updated_at=now)


async def store_user(org: OrgDb, session: AsyncClientSession, user: UserDocument) -> None:
    await UserRepository(org, session).store(user)


async def create_user(org: OrgDb, *, first_name: str, last_name: str, email: str, role_id: str,
                      preferences: dict[str, Any] | None = None, nonsensitive: dict[str, str] | None = None,
                      sensitive: dict[str, str] | None = None) -> UserDocument:
    """Store a user (409 if the email is taken); preferences default to the organization's."""
    if preferences is None:
        preferences = await organizations.default_user_preferences(org)
    user = new_user_document(first_name=first_name, last_name=last_name, email=email, role_id=role_id,
                             preferences=preferences, now=utcnow(), nonsensitive=nonsensitive, sensitive=sensitive)
    try:
        await UserRepository(org).store(user)
    except DuplicateKeyError as exc:
        raise Conflict("A user with the same email already exists in this organization.",
                       error_code="user_exists") from exc
    return user


async def invite_user(org: OrgDb, principal: Principal, body: s.CreateInvitedUserRequest, settings: Settings,
                      box: SecretBox) -> s.CreateInvitedUserResponse:
    role = await roles.active_role(org, body.role_name)
    principal.require("User:InviteUser", {"email": str(body.email).lower(), "role_id": role["_id"],
                                          "role_name": role["name"]})
    roles.require_outranks_role(principal, role, "Inviting a user")
    user = await create_user(
        org, first_name=body.first_name, last_name=body.last_name, email=str(body.email), role_id=role["_id"],
        preferences=body.user_preferences.model_dump() if body.user_preferences else None,
        nonsensitive=body.nonsensitive_user_variables,
        sensitive={k: box.encrypt(v) for k, v in body.sensitive_user_variables.items()},
    )
    if body.login_link is not None:
        try:
            await mailer.send_invitation(settings, to=user["email"], first_name=user["first_name"],
                                         org_name=await organizations.organization_name(org), link=body.login_link)
        except OSError as exc:
            await UserRepository(org).delete_one({"_id": user["_id"]})
            log.warning("invitation_email_failed", error=str(exc))
            raise EmailDeliveryFailed() from exc
    return s.CreateInvitedUserResponse(user_id=user["_id"], verify_link=body.login_link)


def _user_instance(doc: UserDocument, org_id: str) -> s.UserInstance:
    return s.UserInstance(org_id=org_id, user_id=doc["_id"], first_name=doc["first_name"],
                          last_name=doc["last_name"], email=doc["email"],
                          user_stats=s.UserStats.model_validate(doc["user_stats"]), role=doc["role_id"],
                          preferences=s.Preferences.model_validate(doc["preferences"]),
                          nonsensitive_variables=doc["nonsensitive_variables"],
                          sensitive_variables=sorted(doc["sensitive_variables"]),
                          enable_actions_access=doc.get("enable_actions_access", False))


def user_attributes(user: UserDocument) -> dict[str, str]:
    """What grant conditions on users match against."""
    return {"user_id": user["_id"], "email": user["email"], "role_id": user["role_id"]}


async def find_user(org: OrgDb, user_id: str) -> UserDocument | None:
    return await UserRepository(org).get(user_id)


async def find_user_by_email(org: OrgDb, email: str) -> UserDocument | None:
    return await UserRepository(org).by_email(email)


async def get_user(org: OrgDb, user_id: str) -> UserDocument:
    return found(await find_user(org, user_id), _user_not_found())


def _user_not_found() -> NotFound:
    return NotFound("The specified user does not exist.", error_code="user_not_found")


def _user_changes(body: s.UpdateUserInfoRequest) -> Document:
    """`null` leaves names and flags as they are; for the language and time zone `{}` does, `null` erases."""
    changes: Document = {name: getattr(body, name) for name in ("first_name", "last_name", "additional_context")
                         if getattr(body, name) is not None}
    changes.update({f"preferences.{name}": getattr(body, name) for name in _PREFERENCES
                    if getattr(body, name) is not None})
    changes.update({f"preferences.{name}": getattr(body, name) for name in ("preferred_language", "timezone")
                    if getattr(body, name) != {}})
    return changes


async def update_user(org: OrgDb, principal: Principal, user_id: str, body: s.UpdateUserInfoRequest) -> None:
    user = await get_user(org, user_id)
    principal.require("User:UpdateUserInfo", user_attributes(user))
    changes = _user_changes(body)
    if changes:
        await UserRepository(org).update_one({"_id": user_id}, {"$set": {**changes, "updated_at": utcnow()}})


async def _require_outranks_users_role(org: OrgDb, principal: Principal, user: UserDocument, refusal: str) -> None:
    role = await roles.get_role(org, user["role_id"])
    if role is not None and not principal.outranks(roles.grants_of(role)):
        raise PermissionDenied(refusal, error_code="insufficient_role")


async def delete_user(org: OrgDb, principal: Principal, user_id: str, on_change: Callable[[str], None]) -> None:
    """Only a user whose role the caller outranks; never the organization's last top-role holder."""
    user = await get_user(org, user_id)
    principal.require("User:DeleteUser", user_attributes(user))
    await _require_outranks_users_role(org, principal, user,
                                      "Deleting this user needs greater privileges than the user's role.")

    async def remove(session: AsyncClientSession) -> None:
        await organizations.claim_organization(org, session)
        if not await UserRepository(org, session).delete_one({"_id": user_id}):
            raise _user_not_found()
        await clean_up_user(org, session, user_id)
        await roles.require_a_top_role_holder(org, session)

    await in_transaction(org, remove)
    on_change(org.org_id)


async def get_user_model(org: OrgDb, principal: Principal, user_id: str) -> s.GetUserModelResponse:
    """User models come from conversations; until there are some the list is empty."""
    user = await get_user(org, user_id)
    principal.require("User:GetUserModel", user_attributes(user))
    if principal.user_id != user_id and not user["preferences"].get("user_model_visible_to_admins", True):
        raise PermissionDenied("This user keeps their user model private.", error_code="user_model_hidden")
    return s.GetUserModelResponse(user_models=[], additional_context=user.get("additional_context", []))


async def list_users(org: OrgDb, principal: Principal, *, user_ids: list[str], emails: list[str], limit: int,
                     continuation_token: int, sort_by: list[str]) -> s.GetUsersResponse:
    sort = parse_sort(sort_by, USER_SORT)
    query = and_all(
        {"_id": {"$in": user_ids}} if user_ids else None,
        {"email": {"$in": [e.lower() for e in emails]}} if emails else None,
        principal.visible("User:GetUserInfo", USER_FIELDS),
    )
    docs, has_more = await UserRepository(org).load_page(query, sort=sort, skip=continuation_token, limit=limit)
    return s.GetUsersResponse(users=[_user_instance(d, org.org_id) for d in docs], has_more=has_more,
                              continuation_token=next_token(continuation_token, len(docs), has_more))


async def assign_role(org: OrgDb, principal: Principal, role_name: str, user_id: str,
                      on_change: Callable[[str], None]) -> str:
    """The caller needs greater privileges than the role assigned and than the user's current role."""
    role = await roles.active_role(org, role_name)
    roles.require_outranks_role(principal, role, "Assigning a role")
    user = await get_user(org, user_id)
    await _require_outranks_users_role(
        org, principal, user, "Changing this user's role needs greater privileges than the user's current role.")
    await set_role(org, user_id, role["_id"])
    on_change(org.org_id)
    return role["_id"]


async def set_role(org: OrgDb, user_id: str, role_id: str) -> None:
    """Give the user the role, unless that leaves the organization without a top-role holder."""

    async def assign(session: AsyncClientSession) -> None:
        await organizations.claim_organization(org, session)
        await UserRepository(org, session).update_one({"_id": user_id},
                                                      {"$set": {"role_id": role_id, "updated_at": utcnow()}})
        await roles.require_a_top_role_holder(org, session)

    await in_transaction(org, assign)


async def _reassign_users(org: OrgDb, session: AsyncClientSession, old_role_id: str, new_role_id: str) -> None:
    await UserRepository(org, session).update_many({"role_id": old_role_id}, {"$set": {"role_id": new_role_id}})


async def _count_users(org: OrgDb, session: AsyncClientSession, role_ids: list[str]) -> int:
    return await UserRepository(org, session).count({"role_id": {"$in": role_ids}})


register_role_holders(RoleHolders("users", _reassign_users, _count_users))
register_table(SqlTable("users", UserRepository.collection_name, {
    "user_id": Column(TEXT, "_id"), "first_name": TEXT, "last_name": TEXT, "email": TEXT, "role_id": TEXT,
    "status": TEXT, "preferences": JSON, "nonsensitive_variables": JSON,
    "user_stats": Struct({"num_conversations": INTEGER, "num_messages": INTEGER, "last_message_time": TIMESTAMP}),
    "created_at": TIMESTAMP, "updated_at": TIMESTAMP}))
