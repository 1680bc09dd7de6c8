# SPDX-License-Identifier: MIT
"""Pacing a batch: a smooth rate limiter, and a pause every worker honours."""

from __future__ import annotations

import math

import anyio

from ._retry import backoff_disabled

__all__ = ["PauseGate", "RateLimiter"]


class RateLimiter:
    """Start at most `rate` requests per second, evenly spaced.

    GCRA (the Generic Cell Rate Algorithm, as in aiometer's meters) with no
    burst allowance: each caller reserves the next free slot, one interval
    after the previous one, and sleeps until it comes. A reservation is taken
    before sleeping, so callers are served in arrival order without a lock.

    Args:
        rate: Requests per second (> 0).
    """

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next_slot = 0.0

    async def acquire(self) -> None:
        """Wait for this caller's slot."""
        now = anyio.current_time()
        slot = max(self._next_slot, now)
        self._next_slot = slot + self._interval
        if slot > now:
            await anyio.sleep(slot - now)


class PauseGate:
    """A shared 'hold off until' moment, e.g. from a 429's `Retry-After`.

    One worker's rate-limit answer pauses every worker of the batch, not only
    the one that got it.
    """

    def __init__(self) -> None:
        self._until = -math.inf  # never paused: wait() returns without reading the clock

    def pause_for(self, seconds: float) -> None:
        """Make every `wait()` from now on last until `seconds` from now (at least)."""
        self._until = max(self._until, anyio.current_time() + seconds)

    async def wait(self) -> None:
        """Return once no pause is in force (at once under `no_backoff`)."""
        if self._until == -math.inf or backoff_disabled():
            return
        # Loop: another worker may extend the pause while this one sleeps.
        while True:
            remaining = self._until - anyio.current_time()
            if remaining <= 0:
                return
            await anyio.sleep(remaining)
