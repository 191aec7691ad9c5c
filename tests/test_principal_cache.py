"""The principal cache: entries expire together, so concurrent misses share one load instead of each querying."""

import asyncio

import pytest

from amigo_api.core.auth import Principal, PrincipalCache
from amigo_api.core.errors import Unauthorized

KEY = ("org", "org", "user", "key")


def _principal() -> Principal:
    return Principal(org_id="org", issuer_org_id="org", user_id="user", role_id="role", role_name="Role",
                     role_grants=[])


async def test_concurrent_misses_share_one_load() -> None:
    cache = PrincipalCache(ttl=60)
    calls = 0
    release = asyncio.Event()

    async def loader() -> tuple[Principal, float]:
        nonlocal calls
        calls += 1
        await release.wait()
        return _principal(), float("inf")

    waiting = [asyncio.create_task(cache.load(KEY, loader)) for _ in range(16)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*waiting)
    assert calls == 1
    assert all(result is results[0] for result in results)
    assert cache.get(KEY) is results[0][0]  # type: ignore[index]


async def test_a_failed_load_reaches_every_waiter_and_is_not_cached() -> None:
    cache = PrincipalCache(ttl=60)

    async def loader() -> tuple[Principal, float]:
        await asyncio.sleep(0.01)
        raise Unauthorized()

    outcomes = await asyncio.gather(*(cache.load(KEY, loader) for _ in range(4)), return_exceptions=True)
    assert all(isinstance(outcome, Unauthorized) for outcome in outcomes)
    assert cache.get(KEY) is None

    async def working() -> tuple[Principal, float]:
        return _principal(), float("inf")

    assert (await cache.load(KEY, working)) is not None  # the next miss loads again


async def test_invalidation_drops_a_load_in_flight() -> None:
    cache = PrincipalCache(ttl=60)
    release = asyncio.Event()

    async def slow() -> tuple[Principal, float]:
        await release.wait()
        return _principal(), float("inf")

    started = asyncio.create_task(cache.load(KEY, slow))
    await asyncio.sleep(0)
    cache.invalidate_org("org")
    release.set()
    await started
    assert cache.get(KEY) is None  # loaded before the change: not kept


@pytest.mark.parametrize("ttl", [0])
async def test_no_caching_when_the_ttl_is_zero(ttl: float) -> None:
    cache = PrincipalCache(ttl=ttl)

    async def loader() -> tuple[Principal, float]:
        return _principal(), float("inf")

    await cache.load(KEY, loader)
    assert cache.get(KEY) is None
