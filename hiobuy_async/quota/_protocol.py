# SPDX-License-Identifier: MIT
"""The `Quota` protocol: what a client consults before every request it sends."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["Quota"]


@runtime_checkable
class Quota(Protocol):
    """Client-wide pacing, a shared `429` pause, and a shared "exhausted until".

    A client calls `acquire()` before every request it sends (first attempts
    and retries alike), `pause_for()` when a `429` asks it to wait, and
    `exhaust_for()` when the wait asked is longer than its `max_retry_after`.
    [`LocalQuota`][hiobuy_async.quota.LocalQuota] holds this state in one
    process, [`RedisQuota`][hiobuy_async.quota.RedisQuota] shares it between
    processes and machines.

    `acquire()` may be cancelled at any await (the client wraps it in the
    call's deadline); a cancelled `acquire()` must not use up a slot where it
    can avoid it.
    """

    async def acquire(self) -> None:
        """Wait until one more request may start: any pause has passed and the rate allows it.

        Raises:
            RateLimitError: At once, without waiting, while the quota is
                exhausted; its `retry_after` is the number of seconds left.
        """
        ...

    async def pause_for(self, seconds: float) -> None:
        """Make every later `acquire()` wait until `seconds` from now (a `429`'s `Retry-After`).

        Args:
            seconds: How long to hold every request off.
        """
        ...

    async def exhaust_for(self, seconds: float) -> None:
        """Mark the quota exhausted: every `acquire()` in the next `seconds` raises at once.

        Args:
            seconds: How long the quota stays exhausted (e.g. a daily quota's
                `Retry-After`).
        """
        ...

    async def aclose(self) -> None:
        """Release connections, if any (idempotent). A client never closes a quota it was given."""
        ...
