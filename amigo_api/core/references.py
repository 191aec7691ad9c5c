"""Which resources still use another one, asked without the owning domain importing the users.

A domain that refers to another's resources registers a check (services register "active services use
this agent"); the owner asks before retiring a resource and refuses with the reason given."""

from collections import defaultdict
from collections.abc import Awaitable, Callable

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
