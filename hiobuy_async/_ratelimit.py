# SPDX-License-Identifier: MIT
"""Pacing, written once: the GCRA, a batch's cap, a shared pause, and bounds on waits.

The client quota (`quota.LocalQuota`, and `quota.RedisQuota`'s fallback) and
a batch's own `rate_limit` (`Pacer`) are the same limiter, `Gcra`. Every
request passes the pipeline's send gate, which takes the batch's slot (if
any) around the client's, at the moment the request leaves: limiters in
series then hold at the server, instead of a queue behind the client's
limiter leaving in a burst.

A wait the SDK would sleep is bounded twice: a server-supplied wait
(`Retry-After`, a quota pause or exhaustion) never lasts more than
`MAX_SERVER_WAIT`, and a wait that would outlast the call's deadline fails
at once (`check_wait`) instead of sleeping until the deadline.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from contextvars import ContextVar

import anyio
import attrs

from ._exceptions import InputError
from ._retry import MAX_SERVER_WAIT, WaitPastDeadlineError, backoff_disabled, warn_once

__all__ = [
    "CALL_DEADLINE",
    "MAX_SERVER_WAIT",
    "Gcra",
    "Pacer",
    "PauseGate",
    "Reservation",
    "WaitPastDeadlineError",
    "check_rate",
    "check_wait",
    "warn_once",
]


CALL_DEADLINE: ContextVar[float | None] = ContextVar("hiobuy_call_deadline", default=None)
"""The running call's deadline (`anyio.current_time()` clock), set by the pipeline."""


def check_wait(seconds: float, what: str) -> None:
    """Fail at once if waiting `seconds` would outlast the running call's deadline.

    Only inside a call of the pipeline (which sets `CALL_DEADLINE`): a quota
    used on its own is cancelled by its caller's scopes as usual.

    Args:
        seconds: The wait about to be slept.
        what: What is waited for, for the message.

    Raises:
        WaitPastDeadlineError: The wait ends after the deadline (no request sent).
    """
    if seconds <= 0:
        return
    deadline = CALL_DEADLINE.get()
    if deadline is None or deadline == math.inf:
        return
    left = deadline - anyio.current_time()
    if seconds > left:
        raise WaitPastDeadlineError(
            f"{what} asks to wait {seconds:.3g} s, more than the {max(left, 0.0):.3g} s "
            f"left before the call's deadline (no request sent)",
            delivery="not_sent",
        )


def check_rate(rate: float, burst: int) -> None:
    """Refuse a rate that is not a positive finite number, or a burst that is not an int >= 1.

    Args:
        rate: Requests per second.
        burst: Requests that may start back to back.

    Raises:
        InputError: If either is invalid.
    """
    if isinstance(rate, bool) or not isinstance(rate, (int, float)):
        raise InputError(f"rate must be a number of requests per second, got {rate!r}")
    if not math.isfinite(rate) or rate <= 0:
        raise InputError(f"rate must be positive and finite, got {rate!r}")
    if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
        raise InputError(f"burst must be an int >= 1, got {burst!r}")


@attrs.frozen
class Reservation:
    """One caller's slot.

    Attributes:
        slot: When the caller may start (same clock as the `now` it was made with).
        before: The theoretical arrival time before this reservation.
        after: The theoretical arrival time this reservation left.
    """

    slot: float
    before: float
    after: float


class Gcra:
    """The Generic Cell Rate Algorithm, reserving slots.

    At most `burst` requests start back to back, then one per `1 / rate`
    seconds: in any window of `w` seconds at most `rate * w + burst` start.
    The Redis quota's Lua script does the same arithmetic on the server.

    Args:
        rate: Requests per second (> 0).
        burst: Requests that may start back to back (>= 1; 1 means evenly spaced).
    """

    def __init__(self, rate: float, burst: int = 1) -> None:
        check_rate(rate, burst)
        self.interval = 1.0 / rate
        self.tolerance = (burst - 1) * self.interval
        self._tat = -math.inf

    def earliest(self, now: float) -> float:
        """The earliest moment a request may start, without reserving it.

        Args:
            now: The current time.

        Returns:
            `now` or later.
        """
        return max(now, self._tat - self.tolerance)

    def reserve(self, now: float) -> Reservation:
        """Take the earliest slot at or after `now`.

        Args:
            now: The current time.

        Returns:
            The reservation; the caller starts at `reservation.slot`.
        """
        before = self._tat
        slot = max(now, before - self.tolerance)
        self._tat = max(before, now) + self.interval
        return Reservation(slot=slot, before=before, after=self._tat)

    def release(self, reservation: Reservation) -> bool:
        """Give an unused slot back, if no later reservation was made since.

        Args:
            reservation: A reservation from `reserve()` that will not be used.

        Returns:
            Whether the slot was given back (otherwise it stays a gap of one interval).
        """
        if self._tat != reservation.after:
            return False
        self._tat = reservation.before
        return True


class Pacer:
    """A batch's own cap: at most `rate` requests per second leave, evenly spaced.

    The slot is taken when the request leaves, not before an inner wait:
    `acquire(inner)` waits for this pacer's next slot, then for `inner`
    (the client's quota), and only then takes the slot, at the moment the
    request is sent. Callers queue in arrival order (an `anyio.Lock`), so
    two sends of one pacer are always at least `1 / rate` apart, whatever
    `inner` waited, and nothing is used up by a cancelled caller.

    Args:
        rate: Requests per second (> 0).
    """

    def __init__(self, rate: float) -> None:
        self._gcra = Gcra(rate)
        self._lock = anyio.Lock()

    async def acquire(self, inner: Callable[[], Awaitable[None]] | None = None) -> None:
        """Wait for this caller's slot (and `inner`'s), and take it now.

        Args:
            inner: Another limiter to pass in series (the client's quota).

        Raises:
            WaitPastDeadlineError: The slot comes after the call's deadline.
        """
        async with self._lock:
            now = anyio.current_time()
            wait = self._gcra.earliest(now) - now
            if wait > 0:
                check_wait(wait, "the batch's rate_limit")
                await anyio.sleep(wait)
            if inner is not None:
                await inner()
            self._gcra.reserve(anyio.current_time())


class PauseGate:
    """A shared 'hold off until' moment, e.g. from a 429's `Retry-After`.

    One worker's rate-limit answer pauses every worker of the batch, not only
    the one that got it. No pause lasts more than `MAX_SERVER_WAIT`.
    """

    def __init__(self) -> None:
        self._until = -math.inf  # never paused: wait() returns without reading the clock

    def pause_for(self, seconds: float) -> None:
        """Make every `wait()` from now on last until `seconds` from now (at least)."""
        seconds = min(seconds, MAX_SERVER_WAIT)
        self._until = max(self._until, anyio.current_time() + seconds)

    async def wait(self) -> None:
        """Return once no pause is in force (at once under `no_backoff`).

        Raises:
            WaitPastDeadlineError: The pause ends after the call's deadline.
        """
        if self._until == -math.inf or backoff_disabled():
            return
        # Loop: another worker may extend the pause while this one sleeps.
        while True:
            remaining = self._until - anyio.current_time()
            if remaining <= 0:
                return
            check_wait(remaining, "a server's Retry-After pause")
            await anyio.sleep(remaining)
