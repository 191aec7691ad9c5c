"""The Hog pool: programs run in child processes that are killed at their deadline and replaced, meet the kernel's
memory limit, and are shared so that one owner never holds them all."""

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from amigo_api.hog.pool import HogBusy, HogPool, HogStopped
from amigo_api.hog.runtime import Limits

EVENT = {"event": "$ai_generation", "uuid": "u", "distinct_id": "d", "properties": {"$ai_output_choices": "four"}}
SPIN = ("source", "while (true) { let x := 1 }")
UNLIMITED = Limits(timeout_seconds=120, memory_bytes=10 ** 12, string_chars=10 ** 12, array_items=10 ** 12)


@pytest.fixture
async def pool() -> AsyncIterator[HogPool]:
    hog = HogPool(size=2, per_owner=1, memory_mb=64)
    yield hog
    await hog.close()


def _pids(pool: HogPool) -> set[int]:
    return {child.process.pid for child in pool._children}


async def test_a_runaway_program_is_killed_at_its_deadline_and_its_child_replaced(pool: HogPool) -> None:
    verdict = await pool.evaluate("a", ("source", "return length(output) = 4"), EVENT, False, Limits())
    assert verdict.verdict is True
    first = _pids(pool)
    started = time.monotonic()
    with pytest.raises(HogStopped) as stopped:  # Hog's own deadline is two minutes away: the kill ends it
        await pool.call("a", ("evaluate", SPIN, EVENT, False, UNLIMITED), seconds=1)
    assert stopped.value.reason == "timeout" and time.monotonic() - started < 10
    assert stopped.value.verdict(Limits(timeout_seconds=5)).error == "Execution timed out (5s limit exceeded)"
    assert not _pids(pool) & first  # the child that ran it is gone
    again = await pool.evaluate("a", ("source", "return true"), EVENT, False, Limits())
    assert again.verdict is True and _pids(pool) and not _pids(pool) & first


async def test_a_memory_bomb_meets_the_kernel_limit_and_the_pool_serves_on(pool: HogPool) -> None:
    # Hog's own accounting is told there is no limit: the child's address-space cap stops the program
    doubling = ("source", "let s := 'xxxxxxxx'\nwhile (true) { s := concat(s, s) }")
    verdict = await pool.evaluate("a", doubling, EVENT, False, UNLIMITED)
    assert verdict.error == "Memory limit exceeded"
    within = await pool.evaluate("a", ("source", "let s := 'x'\nreturn length(s) = 1"), EVENT, False, Limits())
    assert within.verdict is True and within.error is None


async def test_one_owner_never_holds_every_child(pool: HogPool) -> None:
    spinning = asyncio.create_task(pool.evaluate("a", SPIN, EVENT, False, Limits(timeout_seconds=3)))
    await asyncio.sleep(0.5)
    with pytest.raises(HogBusy):  # a's one slot is taken
        await pool.evaluate("a", ("source", "return true"), EVENT, False, Limits(), wait_seconds=0.5)
    other = await pool.evaluate("b", ("source", "return true"), EVENT, False, Limits(), wait_seconds=2)
    assert other.verdict is True and not spinning.done()  # b was served while a's program still ran
    assert (await spinning).error == "Execution timed out (3s limit exceeded)"


async def test_compile_errors_and_conditions_are_checked_in_a_child(pool: HogPool) -> None:
    assert await pool.call("a", ("check", "return (", []), seconds=10) == (
        "refused", "Compilation error: Unexpected end of the program (line 1, column 9)")
    refused: Any = await pool.call("a", ("check", "return true", [[{"key": "x", "operator": "no"}]]), seconds=10)
    assert refused[0] == "refused" and refused[1].startswith("Invalid conditions:")
    conditions = [[{"key": "$ai_model", "value": "m", "operator": "exact", "type": "event"}]]
    assert await pool.call("a", ("check", "return true", conditions), seconds=10) == ("ok",)


def test_a_pool_needs_more_children_than_one_owner_may_use() -> None:
    with pytest.raises(ValueError, match="more children than one owner"):
        HogPool(size=2, per_owner=2, memory_mb=64)
