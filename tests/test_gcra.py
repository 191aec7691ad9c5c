"""GCRA: N requests per minute at a constant cost, with headers that tell the truth about it."""

import pytest

from amigo_api.core.gcra import MemoryStore, store_from_uri


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_a_burst_of_n_then_one_per_interval() -> None:
    clock = Clock()
    store = MemoryStore(clock)
    decisions = [await store.hit("k", 10) for _ in range(11)]
    assert [d.allowed for d in decisions] == [True] * 10 + [False]
    assert [d.remaining for d in decisions] == [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0]
    assert decisions[-1].retry_after == 6  # one interval: 60 s / 10
    assert decisions[-1].reset == decisions[-2].reset == int(clock.now + 60)
    clock.now += 5.9
    assert not (await store.hit("k", 10)).allowed  # a refusal does not use up budget, but waiting less does not help
    clock.now += 0.1
    admitted = await store.hit("k", 10)
    assert admitted.allowed and admitted.remaining == 0
    clock.now += 60
    assert (await store.hit("k", 10)).remaining == 9  # a minute later: the whole budget again


async def test_budgets_are_per_key() -> None:
    store = MemoryStore(Clock())
    assert [(await store.hit("a", 1)).allowed for _ in range(2)] == [True, False]
    assert (await store.hit("b", 1)).allowed


async def test_the_cost_does_not_grow_with_the_limit() -> None:
    """One number per budget, however large the limit and however many requests it has seen."""
    clock = Clock()
    store = MemoryStore(clock)
    for _ in range(20_000):
        assert (await store.hit("k", 10_000_000)).allowed
    assert len(store) == 1


async def test_retry_after_is_when_the_next_request_is_admitted() -> None:
    clock = Clock()
    store = MemoryStore(clock)
    for _ in range(3):
        await store.hit("k", 3)
    refused = await store.hit("k", 3)
    assert refused.retry_after == 20
    clock.now += refused.retry_after
    assert (await store.hit("k", 3)).allowed


def test_storage_uris() -> None:
    assert isinstance(store_from_uri("memory://"), MemoryStore)
    assert isinstance(store_from_uri("async+memory://"), MemoryStore)
    with pytest.raises(ValueError, match="AMIGO_RATE_LIMIT_STORAGE"):
        store_from_uri("memcached://localhost")


async def test_sweeping_drops_spent_budgets_and_does_not_run_on_every_request() -> None:
    clock = Clock()
    store = MemoryStore(clock, sweep_at=10)
    for i in range(10):
        await store.hit(f"old{i}", 60)
    clock.now += 61  # all ten are back to a full budget
    await store.hit("new", 60)
    assert len(store) == 1
    for i in range(30):  # all live: sweeps find nothing to drop, and then wait for the dict to double
        await store.hit(f"live{i}", 60)
    assert len(store) == 31 and store._sweep_at >= 20
