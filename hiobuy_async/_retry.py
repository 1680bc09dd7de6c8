# SPDX-License-Identifier: MIT
"""What is retried, how long to wait, and the retry loop itself.

Connection errors, timeouts, 408, 429 and 5xx are retried with capped
exponential backoff and jitter. `Retry-After` is honoured up to a ceiling;
above it the error is raised at once instead of sleeping. The waits go
through `anyio.sleep`, so they work on asyncio and trio alike and are
cancelled with the caller.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import anyio
import attrs

from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    CertificateError,
    HiobuyError,
    InputError,
)

__all__ = [
    "RetryBudget",
    "RetryHooks",
    "RetryPolicy",
    "is_retryable",
    "parse_retry_after",
    "retry_call",
    "set_no_backoff",
]

logger = logging.getLogger("hiobuy_async")

T = TypeVar("T")

RETRYABLE_STATUSES = frozenset({408, 429})


@attrs.frozen
class _TestingState:
    no_backoff: bool = False


_testing = _TestingState()


def set_no_backoff(enabled: bool) -> None:
    """Turn real backoff waits off (for tests) or back on.

    With it on, retries still happen the same number of times and a
    `Retry-After` above the ceiling still fails, but no time is spent waiting.

    Args:
        enabled: True to skip waits.
    """
    global _testing  # noqa: PLW0603 - a process-wide test switch, like stamina's
    _testing = _TestingState(no_backoff=enabled)


def backoff_disabled() -> bool:
    """Tell whether `set_no_backoff(True)` is in force.

    Returns:
        True when waits are skipped.
    """
    return _testing.no_backoff


@attrs.frozen
class RetryPolicy:
    """How failed attempts are retried.

    Attributes:
        max_retries: Retries after the first attempt (0 disables retrying).
        initial_backoff: The first backoff, in seconds.
        max_backoff: The cap on any one backoff, in seconds.
        max_retry_after: The longest `Retry-After` the SDK will sleep for;
            a longer one raises the error (429 or 503) at once.
    """

    max_retries: int = attrs.field(default=2)
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 60.0

    @max_retries.validator
    def _check_max_retries(self, _: attrs.Attribute[int], value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InputError(f"max_retries must be an integer >= 0, got {value!r}")

    def backoff(self, retry: int) -> float:
        """Seconds to wait before retry number `retry` (1-based), with jitter.

        Args:
            retry: Which retry this is, counting from 1.

        Returns:
            The exponential backoff, capped, less up to 25% of jitter.
        """
        base = min(self.max_backoff, self.initial_backoff * 2.0 ** (retry - 1))
        return base * (1.0 - 0.25 * random.random())  # noqa: S311 - jitter, not crypto


def is_retryable(error: HiobuyError) -> bool:
    """Tell whether an error is worth another attempt.

    Args:
        error: The error an attempt raised.

    Returns:
        True for connection errors (not certificate failures), timeouts, 408,
        429 and 500-599.
    """
    if isinstance(error, CertificateError):
        return False
    if isinstance(error, APIConnectionError):
        return True
    if isinstance(error, APIStatusError):
        return error.status_code in RETRYABLE_STATUSES or 500 <= error.status_code < 600
    return False


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Parse a `Retry-After` header: delay-seconds or an HTTP date.

    Args:
        value: The header value.
        now: The current Unix time (for HTTP dates); defaults to the clock.

    Returns:
        Seconds to wait (never negative), or `None` when absent or unparsable.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            return None
        seconds = moment.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


class RetryHooks(Protocol):
    """Callbacks through which a batch coordinates the attempts of many calls."""

    async def before_attempt(self) -> None:
        """Wait until an attempt may start (rate limit, shared pause)."""

    def allow_retry(self) -> bool:
        """Tell whether the batch's retry budget allows one more retry."""

    def pause_all(self, seconds: float) -> None:
        """Ask every worker to hold off for `seconds` (a 429's `Retry-After`)."""


async def retry_call(
    attempt: Callable[[int], Awaitable[T]],
    *,
    policy: RetryPolicy,
    deadline: float | None = None,
    hooks: RetryHooks | None = None,
    on_retry: Callable[[HiobuyError], None] | None = None,
    label: str = "call",
) -> T:
    """Run `attempt` until it succeeds, fails for good, or retries run out.

    Args:
        attempt: Makes one attempt; receives the attempt number (from 1).
        policy: The retry policy.
        deadline: An `anyio.current_time()` moment after which no retry is
            started; the caller enforces the deadline itself.
        hooks: Batch coordination, if any.
        on_retry: Called with the error before each retry.
        label: What is retried, for the log records (the endpoint's name).

    Returns:
        What the successful attempt returned.

    Raises:
        HiobuyError: The last attempt's error, or at once an error whose
            `Retry-After` exceeds the policy's ceiling.
    """
    number = 1
    while True:
        if hooks is not None:
            await hooks.before_attempt()
        try:
            return await attempt(number)
        except HiobuyError as error:
            delay = _delay_before_retry(error, number, policy, deadline, hooks)
            if delay is None:
                raise
            if on_retry is not None:
                on_retry(error)
            logger.info(
                "%s: retrying after %s (attempt %d of %d) in %.2fs",
                label,
                type(error).__name__,
                number,
                policy.max_retries + 1,
                delay,
                extra={"hiobuy_endpoint": label},
            )
            if delay > 0 and not _testing.no_backoff:
                await anyio.sleep(delay)
            number += 1


def _delay_before_retry(
    error: HiobuyError,
    number: int,
    policy: RetryPolicy,
    deadline: float | None,
    hooks: RetryHooks | None,
) -> float | None:
    """Return the wait before the next attempt, or None if there is none."""
    if not is_retryable(error) or number > policy.max_retries:
        return None
    delay = policy.backoff(number)
    if isinstance(error, APIStatusError) and error.retry_after is not None:
        if error.retry_after > policy.max_retry_after:
            return None
        delay = max(delay, error.retry_after)
        if hooks is not None:
            hooks.pause_all(error.retry_after)
    if (
        deadline is not None
        and not _testing.no_backoff
        and anyio.current_time() + delay >= deadline
    ):
        return None
    if hooks is not None and not hooks.allow_retry():
        return None
    return delay


class RetryBudget:
    """Cap retries across a batch at a fraction of its first attempts.

    Every first attempt deposits `ratio` of a token; every retry spends one.
    With `ratio=0.2`, a batch against a failing API sends at most
    ~1.2x its first attempts (plus a small `reserve` for the batch's start),
    instead of `1 + max_retries` times as many.

    Args:
        ratio: Retries allowed per first attempt (0 disables retries).
        reserve: Retries allowed before any deposit.
    """

    def __init__(self, ratio: float, *, reserve: float = 10.0) -> None:
        if isinstance(ratio, bool) or not isinstance(ratio, int | float) or ratio < 0:
            raise InputError(f"retry_budget must be a number >= 0, got {ratio!r}")
        self._ratio = float(ratio)
        self._tokens = float(reserve) if ratio > 0 else 0.0

    def deposit(self) -> None:
        """Record a first attempt."""
        self._tokens += self._ratio

    def try_spend(self) -> bool:
        """Take a token for one retry.

        Returns:
            True if the retry may go ahead.
        """
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False
