"""References between domains, resolved without the owning domain importing the domains that refer to it.

- Usage checks: a domain that refers to another's resources registers a check (services register "active
  services use this agent"); the owner asks before retiring a resource and refuses with the reason given.
- Role holders: users, external members and API keys hold roles; the roles domain moves them to a replaced
  role and counts top-role holders through them.
- User cleanups: what a domain keeps about a user goes with the user (temporary permission grants)."""

from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pymongo.asynchronous.client_session import AsyncClientSession

from amigo_api.core.db import OrgDb

UsageCheck = Callable[[OrgDb, AsyncClientSession | None, tuple[str, ...]], Awaitable[str | None]]

_checks: dict[str, list[UsageCheck]] = defaultdict(list)


def register_usage(kind: str, check: UsageCheck) -> None:
    """`check(org, session, key)` returns why the resource is in use, or None."""
    if check not in _checks[kind]:
        _checks[kind].append(check)


async def usage_reason(kind: str, org: OrgDb, session: AsyncClientSession | None, *key: str) -> str | None:
    for check in _checks[kind]:
        reason = await check(org, session, key)
        if reason is not None:
            return reason
    return None


# Role holders ---------------------------------------------------------------------------------------

RoleReassign = Callable[[OrgDb, AsyncClientSession, str, str], Awaitable[None]]
HolderCount = Callable[[OrgDb, AsyncClientSession, list[str]], Awaitable[int]]


@dataclass(frozen=True)
class RoleHolders:
    """Documents of a domain that hold a role by `role_id` (users, members from other organizations, API
    keys). When a role is replaced they move to the new one; `count` (None for API keys) says how many hold
    one of the given roles, so the roles domain can refuse to leave an organization without a top-role
    holder."""

    name: str
    reassign: RoleReassign
    count: HolderCount | None = None


_role_holders: dict[str, RoleHolders] = {}


def register_role_holders(holders: RoleHolders) -> None:
    _role_holders[holders.name] = holders


def role_holders() -> list[RoleHolders]:
    return list(_role_holders.values())


# What goes with a deleted user ----------------------------------------------------------------------

UserCleanup = Callable[[OrgDb, AsyncClientSession, str], Awaitable[None]]
_user_cleanups: list[UserCleanup] = []


def register_user_cleanup(cleanup: UserCleanup) -> None:
    """`cleanup(org, session, user_id)` removes a domain's data about a user, in the deleting transaction."""
    if cleanup not in _user_cleanups:
        _user_cleanups.append(cleanup)


async def clean_up_user(org: OrgDb, session: AsyncClientSession, user_id: str) -> None:
    for cleanup in _user_cleanups:
        await cleanup(org, session, user_id)
