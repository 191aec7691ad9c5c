"""GCRA (the generic cell rate algorithm): "N requests per minute" at a constant cost per request, whatever N.

Each (endpoint, caller) keeps one number, its theoretical arrival time (TAT). A request is admitted when
TAT + one interval (60 s / N) is at most 60 s ahead of now; admitting it moves TAT on by one interval. So a
caller with nothing recent may send N requests at once, then one every 60/N seconds; a caller who pauses
regains one request per interval, the whole N after a minute. Memory keeps the TATs in a dict; Redis runs one
script per request (one round trip), on the Redis server's clock, so every API process shares the budget."""

import math
import time
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

PERIOD_SECONDS = 60.0
_EPSILON = 1e-9  # floating-point slack when counting whole intervals
_SWEEP_AT = 100_000


class Decision(NamedTuple):  # one per request: a tuple is the cheapest record to build
    allowed: bool
    limit: int
    remaining: int
    reset: int  # epoch seconds when the caller has the whole limit again
    retry_after: int  # seconds until the next request would be admitted (0 when admitted)


def decide(limit: int, allowed: bool, tat: float, now: float) -> Decision:
    """The headers' truth, from the TAT after the request (admitted) or as it stays (refused)."""
    interval = PERIOD_SECONDS / limit
    if allowed:
        remaining = math.floor((PERIOD_SECONDS - (tat - now)) / interval + _EPSILON)
        return Decision(True, limit, max(0, remaining), math.ceil(tat), 0)
    admitted_at = tat + interval - PERIOD_SECONDS
    return Decision(False, limit, 0, math.ceil(tat), max(1, math.ceil(admitted_at - now)))


class Store(Protocol):
    async def hit(self, key: str, limit: int) -> Decision: ...


class MemoryStore:
    """One process's budgets."""

    def __init__(self, clock: Callable[[], float] = time.time, sweep_at: int = _SWEEP_AT) -> None:
        self._clock = clock
        self._tats: dict[str, float] = {}
        self._sweep_at = self._min_sweep_at = sweep_at

    def __len__(self) -> int:
        return len(self._tats)

    async def hit(self, key: str, limit: int) -> Decision:
        now = self._clock()
        tat = max(self._tats.get(key, now), now)
        new_tat = tat + PERIOD_SECONDS / limit
        if new_tat - now > PERIOD_SECONDS + _EPSILON:
            return decide(limit, False, tat, now)
        if len(self._tats) >= self._sweep_at:
            self._sweep(now)
        self._tats[key] = new_tat
        return decide(limit, True, new_tat, now)

    def _sweep(self, now: float) -> None:
        """A TAT in the past means a full budget, the same as no entry. The next sweep waits until the dict has
        doubled again, so many live budgets cannot make every request sweep."""
        self._tats = {k: t for k, t in self._tats.items() if t > now}
        self._sweep_at = max(self._min_sweep_at, 2 * len(self._tats))


# KEYS[1] the budget; ARGV[1] the limit per period, ARGV[2] the period in seconds.
# Returns {admitted (1/0), TAT after the request or as it stays, now} as strings (Lua numbers lose fractions).
_SCRIPT = """
local limit = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local new_tat = tat + period / limit
if new_tat - now > period + 1e-9 then
  return {0, tostring(tat), tostring(now)}
end
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1000)
return {1, tostring(new_tat), tostring(now)}
"""


class RedisStore:
    """Budgets shared by every API process using the same Redis."""

    def __init__(self, url: str) -> None:
        import redis.asyncio

        self._client: Any = redis.asyncio.from_url(url)
        self._script = self._client.register_script(_SCRIPT)

    async def hit(self, key: str, limit: int) -> Decision:
        admitted, tat, now = await self._script(keys=[f"amigo:ratelimit:{key}"], args=[limit, PERIOD_SECONDS])
        return decide(limit, int(admitted) == 1, float(tat), float(now))


def store_from_uri(uri: str) -> Store:
    """`memory://` or `redis://host:port[/db]` (`rediss://` for TLS); an `async+` prefix is accepted."""
    uri = uri.removeprefix("async+")
    if uri.startswith("memory://"):
        return MemoryStore()
    if uri.startswith(("redis://", "rediss://")):
        return RedisStore(uri)
    raise ValueError(f"AMIGO_RATE_LIMIT_STORAGE must be memory:// or redis://host:port (got {uri!r}).")
