# SPDX-License-Identifier: MIT
"""The GCRA bookkeeping shared by the in-process quota and the Redis quota's fallback.

The Redis quota's Lua script does the same arithmetic on the server (in
microseconds, with the server's clock).
"""

from __future__ import annotations

import math

import attrs

from .._exceptions import InputError

__all__ = ["Gcra", "Reservation", "check_rate"]


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

    Args:
        rate: Requests per second (> 0).
        burst: Requests that may start back to back (>= 1; 1 means evenly spaced).
    """

    def __init__(self, rate: float, burst: int = 1) -> None:
        check_rate(rate, burst)
        self.interval = 1.0 / rate
        self.tolerance = (burst - 1) * self.interval
        self._tat = -math.inf

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
