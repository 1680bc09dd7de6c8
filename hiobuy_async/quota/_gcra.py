# SPDX-License-Identifier: MIT
"""The GCRA bookkeeping shared by the in-process quota and the Redis quota's fallback.

Written once, in `hiobuy_async._ratelimit` (a batch's `rate_limit` is the same
limiter); re-exported here. The Redis quota's Lua script does the same
arithmetic on the server (in microseconds, with the server's clock).
"""

from __future__ import annotations

from .._ratelimit import Gcra, Reservation, check_rate

__all__ = ["Gcra", "Reservation", "check_rate"]
