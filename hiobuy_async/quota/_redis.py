# SPDX-License-Identifier: MIT
"""`RedisQuota`: one quota shared by every process that uses the same Redis key.

Redis client: `coredis` (6.x). It is built on anyio, so one client works
under asyncio and trio alike (checked by the tests, which run processes of
both), it is fully typed, and it has script support that runs a Lua script
with `EVALSHA` and loads it again on `NOSCRIPT`. `redis-py`'s asyncio client
does not run under trio. coredis 6 ties its connections to a task group, so a
`RedisQuota` is opened with `async with`.

The pacing is a GCRA computed atomically by a Lua script on the Redis server
with the server's clock (`TIME`), in integer microseconds. Each `acquire()`
reserves the next slot and sleeps locally until it: only the relative wait
crosses the wire, so the processes' clocks never matter, and the server hands
out slots at least `1 / rate` apart (after `burst` back to back), so at most
`rate * w + burst` requests start in any window of `w` seconds across every
process, give or take the jitter of the last hop. Asking "may I go now?" and
retrying would be just as exact but makes every waiter poll Redis and serves
them in no order; a reservation costs one round trip per request. Within a
process the callers queue on an `anyio.Lock` and only the head holds a
reservation, so a cancelled caller normally gives nothing up: the head's slot
is given back when no later one was taken (otherwise it stays a gap of one
interval, slowing the quota, never speeding it up).

When Redis is down or slow (no answer within `timeout` twice in a row: one
miss alone paces that one request locally), the quota falls back
to local pacing at `rate / expected_processes`, logs one warning per outage on
the `hiobuy_async` logger, tries Redis again every `retry_interval` seconds
and logs once when it answers again. No `acquire()` waits on Redis longer than
`timeout` per round trip, and every wait is cancellable.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from .._coredis import import_coredis, round_trip
from .._exceptions import InputError
from .._ratelimit import MAX_SERVER_WAIT, PauseGate, check_wait
from .._retry import backoff_disabled
from ._gcra import Gcra, check_rate
from ._local import check_seconds, exhausted_error

if TYPE_CHECKING:
    import coredis
    from anyio.abc import TaskGroup

__all__ = ["RedisQuota"]

logger = logging.getLogger("hiobuy_async")

_USERINFO = re.compile(r"//[^/?#]*@")
_DIGITS = re.compile(r"[0-9]{1,18}")

T = TypeVar("T")

_GO, _PAUSED, _EXHAUSTED = 0, 1, 2

# KEYS: tat, pause_until, exhausted_until. ARGV: interval_us, tolerance_us,
# honour_pause ("1"/"0"). Times are integer microseconds of the server's clock;
# numbers are formatted with %.0f because Lua 5.1 prints large ones in e-notation.
ACQUIRE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local exhausted = tonumber(redis.call('GET', KEYS[3]) or '0')
if exhausted > now then
  return {2, string.format('%.0f', exhausted - now)}
end
if ARGV[3] == '1' then
  local pause = tonumber(redis.call('GET', KEYS[2]) or '0')
  if pause > now then
    return {1, string.format('%.0f', pause - now)}
  end
end
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now, tat - tolerance)
local after = math.max(tat, now) + interval
redis.call('SET', KEYS[1], string.format('%.0f', after),
  'PX', string.format('%.0f', math.ceil((after - now) / 1000) + 1000))
return {0, string.format('%.0f', slot - now), string.format('%.0f', tat),
  string.format('%.0f', after)}
"""

# KEYS: tat. ARGV: before, after (as ACQUIRE_LUA returned them). Gives a slot
# back only if no later reservation was made since.
RELEASE_LUA = """
if redis.call('GET', KEYS[1]) ~= ARGV[2] then
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local before = tonumber(ARGV[1])
if before <= now then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[1],
    'PX', string.format('%.0f', math.ceil((before - now) / 1000) + 1000))
end
return 1
"""

# KEYS: a pause_until or exhausted_until key. ARGV: microseconds from now.
# Never shortens what is in force; the key expires when it has passed.
EXTEND_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local wanted = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current < wanted then
  redis.call('SET', KEYS[1], string.format('%.0f', wanted),
    'PX', string.format('%.0f', math.ceil(tonumber(ARGV[1]) / 1000) + 1))
  current = wanted
end
return string.format('%.0f', current - now)
"""

_MICRO = 1_000_000

WARM_UP_TIMEOUT = 2.0
"""Seconds opening a `RedisQuota` waits, at most, to connect and load its scripts."""


def _positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{name} must be a number of seconds, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"{name} must be positive and finite, got {value!r}")
    return float(value)


class RedisQuota:
    """One quota (pacing, `429` pause, exhaustion) shared through Redis by many processes.

    Every process that opens a `RedisQuota` with the same `url` and `key`
    shares one GCRA (computed on the Redis server with its clock), one pause
    and one "exhausted until". Open it with `async with` (or give it unopened
    to one `AsyncHiobuy(quota=...)`, which opens and closes it): opening connects
    and loads the quota's scripts, waiting at most 2 s (or `timeout`, if
    longer), and never fails because Redis does not answer. Requires
    Redis >= 5 and the extra `hiobuy-async[redis]`.

    Redis keys: `{key}:tat` (the GCRA's next slot), `{key}:pause` and
    `{key}:exhausted`, with the braces (a Redis Cluster hash tag). Each
    expires once it no longer matters, so nothing lingers.

    When Redis does not answer (down, refusing connections, or slower than
    `timeout` twice in a row), `acquire()` paces locally at
    `rate / expected_processes`, one warning is logged on the `hiobuy_async`
    logger, Redis is tried again every `retry_interval` seconds, and one
    message is logged when it answers again. A pause or exhaustion set
    meanwhile holds in this process. A single round trip slower than
    `timeout` (often this process starved of CPU, not Redis) costs one
    locally paced request, and the next one asks Redis again.

    Args:
        url: The Redis URL, e.g. `"redis://127.0.0.1:6379/0"`.
        key: The name every process sharing this quota uses, e.g. one per
            merchant account: `"hiobuy:merchant-42"`.
        rate: Requests per second for all processes together (positive, finite).
        burst: Requests that may start back to back (an int >= 1; 1 means
            evenly spaced).
        expected_processes: How many processes share the key; while Redis is
            unreachable each one paces itself at `rate / expected_processes`.
        timeout: The longest wait for one Redis round trip, in seconds.
        retry_interval: Seconds between attempts to reach Redis again after it
            failed.

    Raises:
        InputError: If an argument is invalid.
        ImportError: If `coredis` (the `redis` extra) is not installed.

    Example:
        ```python
        async with RedisQuota("redis://127.0.0.1:6379", key="hiobuy:acme", rate=40) as quota:
            await quota.acquire()  # before each request
        ```
    """

    def __init__(
        self,
        url: str,
        *,
        key: str,
        rate: float,
        burst: int = 1,
        expected_processes: int = 1,
        timeout: float = 0.25,
        retry_interval: float = 1.0,
    ) -> None:
        check_rate(rate, burst)
        if not isinstance(url, str) or not url:
            raise InputError(f"url must be a Redis URL, got {url!r}")
        if not isinstance(key, str) or not key:
            raise InputError(f"key must be a non-empty string, got {key!r}")
        if (
            isinstance(expected_processes, bool)
            or not isinstance(expected_processes, int)
            or expected_processes < 1
        ):
            raise InputError(f"expected_processes must be an int >= 1, got {expected_processes!r}")
        self._timeout = _positive("timeout", timeout)
        self._retry_interval = _positive("retry_interval", retry_interval)
        self._coredis = import_coredis("RedisQuota")
        self._url = url
        self.key = key
        self.rate = float(rate)
        self.burst = burst
        self.expected_processes = expected_processes
        self._keys = [f"{{{key}}}:tat", f"{{{key}}}:pause", f"{{{key}}}:exhausted"]
        interval = 1.0 / rate
        # Rounded up: a slot a microsecond late is safe, one early is not.
        self._interval_us = max(1, math.ceil(interval * _MICRO))
        self._tolerance_us = (burst - 1) * self._interval_us
        self._fallback = Gcra(rate / expected_processes)
        self._pause = PauseGate()
        self._exhausted_until = -math.inf
        self._lock = anyio.Lock()
        self._wake: anyio.CancelScope | None = None
        self._client: coredis.Redis[str] | None = None
        # coredis' Script types its reply from a callback; these return Lua tables.
        self._scripts: dict[str, Any] = {}
        self._task_group: TaskGroup | None = None
        self._stack: AsyncExitStack | None = None
        self._closed = False
        self._down = False
        self._missed = False  # the last round trip got no answer within `timeout`
        self._warned_broken = False
        self._garbled = False
        self._retry_at = -math.inf

    def __repr__(self) -> str:
        return f"RedisQuota(key={self.key!r}, rate={self.rate!r}, burst={self.burst!r})"

    @property
    def url(self) -> str:
        """The Redis URL, its password (and user name) replaced by `***`."""
        return _USERINFO.sub("//***@", self._url, count=1)

    def _unopened(self) -> bool:
        """True until `async with` (or a client given it) opens it."""
        return self._stack is None and not self._closed

    async def __aenter__(self) -> RedisQuota:
        if self._stack is not None or self._closed:
            raise RuntimeError("a RedisQuota can be opened only once")
        client = self._coredis.Redis.from_url(self._url, decode_responses=True)
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(client)
            # Entered after the client, so it ends first: slots being given
            # back still have a connection.
            self._task_group = await stack.enter_async_context(anyio.create_task_group())
            self._client = client
            self._scripts = {
                "acquire": client.register_script(ACQUIRE_LUA),
                "release": client.register_script(RELEASE_LUA),
                "extend": client.register_script(EXTEND_LUA),
            }
            self._stack = stack.pop_all()
        await self._warm_up()
        return self

    async def _warm_up(self) -> None:
        # Connect and load the scripts now: on a busy machine, connecting
        # plus the NOSCRIPT/SCRIPT LOAD round trips of a first call can take
        # longer than `timeout`, and the first acquire() would fall back for
        # no outage. Not answering here is not an outage yet either: the first
        # acquire() finds out, and says so.
        import coredis.exceptions  # noqa: PLC0415 - loaded by import_coredis already

        assert self._client is not None
        with anyio.move_on_after(max(self._timeout, WARM_UP_TIMEOUT)):
            try:
                for text in (ACQUIRE_LUA, RELEASE_LUA, EXTEND_LUA):
                    await self._client.script_load(text)
            except (coredis.exceptions.RedisError, OSError):
                return

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
        stack, self._stack = self._stack, None
        self._task_group = None
        if stack is not None:
            # Not handed the block's error: the task groups would wrap it in
            # an ExceptionGroup (two of them). It leaves the block as raised.
            await stack.__aexit__(None, None, None)

    async def aclose(self) -> None:
        """Close the Redis connections (idempotent); later `acquire()` calls raise `RuntimeError`.

        Leaving the `async with` block calls it.
        """
        if self._closed:
            return
        self._closed = True
        if self._client is not None:
            self._client.connection_pool.disconnect()

    def _raise_if_exhausted(self) -> None:
        remaining = self._exhausted_until - anyio.current_time()
        if remaining > 0:
            raise exhausted_error(remaining)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this RedisQuota is closed")
        if self._client is None:
            raise RuntimeError(
                "open the RedisQuota first: `async with RedisQuota(...) as quota:`, or "
                "`async with AsyncHiobuy(quota=RedisQuota(...))`"
            )

    async def _call(self, request: Callable[[], Awaitable[T]]) -> T | None:
        """One Redis round trip bounded by `timeout`; `None` when Redis did not answer."""
        if anyio.current_time() < self._retry_at:
            return None
        answered, result, failure = await round_trip(request, self._timeout)
        if answered:
            self._missed = False
            if self._down:
                self._down = False
                logger.info("Redis quota %r reachable again: shared pacing resumed", self.key)
            return result
        if failure is None and not self._down and not self._missed:
            # One answer missed is not an outage yet: a process starved of CPU
            # (a loaded machine, a long GC pause) misses its timeout with the
            # reply already waiting. This round trip is paced locally and the
            # next one asks Redis again: falling back for `retry_interval`
            # would add this process's local share to the full shared rate the
            # other processes go on taking (a burst of 429s and a fleet pause).
            self._missed = True
            return None
        self._missed = False
        self._retry_at = anyio.current_time() + self._retry_interval
        if not self._down:
            self._down = True
            reason = repr(failure) if failure else f"no answer within {self._timeout:g} s"
            logger.warning(
                "Redis quota %r unreachable (%s): pacing locally at %.3g requests/s "
                "(rate / expected_processes) until it answers again",
                self.key,
                reason,
                self.rate / self.expected_processes,
            )
        return None

    async def acquire(self) -> None:
        """Wait until one more request may start: any pause has passed and the rate allows it.

        Raises:
            RateLimitError: At once, without waiting, while the quota is
                exhausted; its `retry_after` is the number of seconds left.
            RuntimeError: If the quota is not open, or closed.
        """
        self._check_open()
        self._raise_if_exhausted()
        async with self._lock:
            while True:
                self._raise_if_exhausted()
                # pause_for() and exhaust_for() cancel this scope, so the head
                # of the queue gives its slot back and looks again.
                with anyio.CancelScope() as wake:
                    self._wake = wake
                    try:
                        if await self._take_slot():
                            return
                    finally:
                        self._wake = None

    async def _take_slot(self) -> bool:
        """Wait for a slot; `False` when a pause was learnt and the caller must look again."""
        await self._pause.wait()
        honour_pause = "0" if backoff_disabled() else "1"
        script = self._scripts["acquire"]
        reply: list[object] | None = await self._call(
            lambda: script(
                keys=self._keys, args=[self._interval_us, self._tolerance_us, honour_pause]
            )
        )
        parsed = None if reply is None else self._parse_reply(reply)
        if parsed is None:
            return await self._pace_locally()
        status, wait, slot = parsed
        if status != _GO and wait > MAX_SERVER_WAIT:
            # Written by something else than this SDK (which caps what it
            # writes): no server wait lasts that long.
            self._broken("a pause or exhaustion of %.3g s, more than 24 h", wait)
            return await self._pace_locally()
        if status == _GO and wait > self.max_plausible_wait:
            self._release_later(*slot)
            self._broken("a rate-limit slot %.3g s ahead", wait)
            return await self._pace_locally()
        if status == _EXHAUSTED:
            self._exhausted_until = max(self._exhausted_until, anyio.current_time() + wait)
            raise exhausted_error(wait)
        if status == _PAUSED:
            self._pause.pause_for(wait)
            return False
        try:
            check_wait(wait, "the shared rate limit")
            await anyio.sleep(wait)
        except BaseException:
            self._release_later(*slot)
            raise
        return True

    def _parse_reply(self, reply: object) -> tuple[int, float, list[str]] | None:
        """Read ACQUIRE_LUA's reply; `None` (Redis treated as down) when it has another shape.

        Something else answering on that port, or another script under the
        same name, must not fail every call: the quota paces locally, as when
        Redis does not answer, with one warning.
        """
        parts = [str(part) for part in reply] if isinstance(reply, list | tuple) else []
        if (
            len(parts) in (2, 4)
            and all(_DIGITS.fullmatch(part) for part in parts)
            and int(parts[0]) in (_GO, _PAUSED, _EXHAUSTED)
            and (len(parts) == 4 or int(parts[0]) != _GO)
        ):
            if self._garbled:
                self._garbled = False
                logger.info(
                    "Redis quota %r answers as expected again: shared pacing resumed", self.key
                )
            return int(parts[0]), int(parts[1]) / _MICRO, parts[2:]
        self._retry_at = anyio.current_time() + self._retry_interval
        if not self._garbled:
            self._garbled = True
            logger.warning(
                "Redis quota %r got an unusable reply (%.60r): pacing locally at %.3g "
                "requests/s (rate / expected_processes) until Redis answers as expected",
                self.key,
                reply,
                self.rate / self.expected_processes,
            )
        return None

    @property
    def max_plausible_wait(self) -> float:
        """The longest slot wait a legitimate schedule can hand out, in seconds.

        Each process sharing the key holds at most one reservation at a time
        (its callers queue behind one lock), so a slot is at most
        `expected_processes + burst` intervals ahead; twice that, plus a
        second for clocks and round trips, is the bound. A longer wait means
        broken shared state (the Redis clock stepped back, a failover to a
        replica whose clock is behind, a stray writer): it is never slept.
        """
        intervals = self.expected_processes + self.burst
        return 2.0 * intervals * self._interval_us / _MICRO + 1.0

    def _broken(self, what: str, wait: float) -> None:
        if self._warned_broken:
            return
        self._warned_broken = True
        logger.warning(
            "Redis quota %r holds " + what + ", which no schedule of %d process(es) at "
            "%.3g requests/s can produce: ignored, pacing locally at %.3g requests/s "
            "(logged once per quota)",
            self.key,
            wait,
            self.expected_processes,
            self.rate,
            self.rate / self.expected_processes,
        )

    async def _pace_locally(self) -> bool:
        """Wait for a slot of the local fallback (`rate / expected_processes`)."""
        now = anyio.current_time()
        reservation = self._fallback.reserve(now)
        try:
            check_wait(reservation.slot - now, "the rate limit")
            await anyio.sleep(reservation.slot - now)
        except BaseException:
            self._fallback.release(reservation)
            raise
        return True

    def _release_later(self, before: str, after: str) -> None:
        # In the quota's own task group: a cancelled caller does not wait for it.
        if self._task_group is not None and not self._closed:
            script = self._scripts["release"]
            self._task_group.start_soon(
                self._call, lambda: script(keys=self._keys[:1], args=[before, after])
            )

    async def _extend(self, key: str, seconds: float) -> None:
        script = self._scripts["extend"]
        await self._call(lambda: script(keys=[key], args=[math.ceil(seconds * _MICRO)]))

    async def pause_for(self, seconds: float) -> None:
        """Make every later `acquire()`, in every process sharing the key, wait `seconds` from now.

        Takes effect in this process at once; other processes see it at their
        next round trip to Redis (a request each may already hold a slot for).
        Skipped under [`no_backoff()`][hiobuy_async.testing.no_backoff].

        Args:
            seconds: How long to hold every request off (finite, >= 0).

        Raises:
            InputError: If `seconds` is negative or not finite.
            RuntimeError: If the quota is not open, or closed.
        """
        seconds = min(check_seconds(seconds), MAX_SERVER_WAIT)
        self._check_open()
        self._pause.pause_for(seconds)
        if self._wake is not None:
            self._wake.cancel()
        await self._extend(self._keys[1], seconds)

    async def exhaust_for(self, seconds: float) -> None:
        """Mark the quota exhausted for every process sharing the key, for `seconds`.

        Args:
            seconds: How long every `acquire()` raises `RateLimitError` at once
                (finite, >= 0).

        Raises:
            InputError: If `seconds` is negative or not finite.
            RuntimeError: If the quota is not open, or closed.
        """
        seconds = min(check_seconds(seconds), MAX_SERVER_WAIT)
        self._check_open()
        self._exhausted_until = max(self._exhausted_until, anyio.current_time() + seconds)
        if self._wake is not None:
            self._wake.cancel()
        await self._extend(self._keys[2], seconds)
