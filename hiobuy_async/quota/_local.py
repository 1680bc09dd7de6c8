# SPDX-License-Identifier: MIT
"""`LocalQuota`: the client-wide quota held in one process."""

from __future__ import annotations

import math

import anyio

from .._exceptions import InputError, QuotaExhaustedError
from .._ratelimit import MAX_SERVER_WAIT, PauseGate, check_wait
from ._gcra import Gcra

__all__ = ["LocalQuota", "check_seconds", "exhausted_error"]


def check_seconds(seconds: float) -> float:
    """Refuse a pause or exhaustion length that is not a finite number >= 0.

    Args:
        seconds: The length asked for.

    Returns:
        `seconds` as a float.

    Raises:
        InputError: If it is negative, not finite, or not a number.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise InputError(f"seconds must be a number, got {seconds!r}")
    if not math.isfinite(seconds) or seconds < 0:
        raise InputError(f"seconds must be finite and >= 0, got {seconds!r}")
    return float(seconds)


def exhausted_error(remaining: float) -> QuotaExhaustedError:
    """The error `acquire()` raises while the quota is exhausted.

    Args:
        remaining: Seconds until the quota is available again.

    Returns:
        A `QuotaExhaustedError` (a `RateLimitError`) whose `retry_after` is `remaining`.
    """
    return QuotaExhaustedError(
        f"the request quota is exhausted for another {remaining:.3g} s (no request sent)",
        retry_after=remaining,
    )


class LocalQuota:
    """The client-wide quota of one process: pacing, a shared pause, exhaustion.

    Requests start at most `rate` per second (GCRA: after `burst` back to
    back, one per `1 / rate` seconds), a `pause_for()` holds every later
    `acquire()` off until it passes, and while `exhaust_for()` is in force
    `acquire()` raises `RateLimitError` at once. Works on asyncio and trio.

    Callers queue in arrival order (an `anyio.Lock`); only the caller at the
    head holds a slot while it sleeps, so a cancelled `acquire()` never uses
    one up: a caller cancelled in the queue held none, and the head's slot is
    given back.

    Args:
        rate: Requests per second (positive, finite), or `None` for no
            pacing (the pause and exhaustion still apply: every client has
            one of these).
        burst: Requests that may start back to back (an int >= 1; 1 means
            evenly spaced, no burst).

    Raises:
        InputError: If `rate` or `burst` is invalid.

    Example:
        ```python
        quota = LocalQuota(rate=20)
        await quota.acquire()  # before each request
        ```
    """

    def __init__(self, rate: float | None, *, burst: int = 1) -> None:
        self._gcra = None if rate is None else Gcra(rate, burst)
        self.rate = None if rate is None else float(rate)
        self.burst = burst
        self._pause = PauseGate()
        self._exhausted_until = -math.inf
        self._lock = anyio.Lock()
        self._wake: anyio.CancelScope | None = None

    def __repr__(self) -> str:
        return f"LocalQuota(rate={self.rate!r}, burst={self.burst!r})"

    def _raise_if_exhausted(self) -> None:
        if self._exhausted_until == -math.inf:
            return  # never exhausted: no need to read the clock
        remaining = self._exhausted_until - anyio.current_time()
        if remaining > 0:
            raise exhausted_error(remaining)

    async def acquire(self) -> None:
        """Wait until one more request may start: any pause has passed and the rate allows it.

        Raises:
            RateLimitError: At once, without waiting, while the quota is
                exhausted; its `retry_after` is the number of seconds left.
            APITimeoutError: At once, when the wait would outlast the
                call's deadline.
        """
        self._raise_if_exhausted()
        gcra = self._gcra
        if gcra is None:
            # No pacing: only the pause, and no queue to keep in order.
            await self._pause.wait()
            self._raise_if_exhausted()
            return
        async with self._lock:
            while True:
                self._raise_if_exhausted()
                # pause_for() and exhaust_for() cancel this scope, so the head
                # of the queue gives its slot back and looks again.
                with anyio.CancelScope() as wake:
                    self._wake = wake
                    try:
                        await self._pause.wait()
                        now = anyio.current_time()
                        reservation = gcra.reserve(now)
                        try:
                            check_wait(reservation.slot - now, "the client's rate limit")
                            await anyio.sleep(reservation.slot - now)
                        except BaseException:
                            gcra.release(reservation)
                            raise
                    finally:
                        self._wake = None
                if not wake.cancelled_caught:
                    return

    async def pause_for(self, seconds: float) -> None:
        """Make every later `acquire()` wait until `seconds` from now (a `429`'s `Retry-After`).

        A shorter pause never shortens one in force, and none lasts more than
        24 hours. Skipped under
        [`no_backoff()`][hiobuy_async.testing.no_backoff], like every
        `Retry-After` wait.

        Args:
            seconds: How long to hold every request off (finite, >= 0; 24 h at most).

        Raises:
            InputError: If `seconds` is negative or not finite.
        """
        self._pause.pause_for(check_seconds(seconds))
        if self._wake is not None:
            self._wake.cancel()

    async def exhaust_for(self, seconds: float) -> None:
        """Mark the quota exhausted: every `acquire()` in the next `seconds` raises at once.

        Args:
            seconds: How long the quota stays exhausted (finite, >= 0; 24 h at most).

        Raises:
            InputError: If `seconds` is negative or not finite.
        """
        until = anyio.current_time() + min(check_seconds(seconds), MAX_SERVER_WAIT)
        self._exhausted_until = max(self._exhausted_until, until)
        if self._wake is not None:
            self._wake.cancel()

    async def aclose(self) -> None:
        """Do nothing: a local quota holds no connections."""
