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
    APITimeoutError,
    CertificateError,
    HiobuyError,
    InputError,
)

__all__ = [
    "MAX_SERVER_WAIT",
    "RetryBudget",
    "RetryHooks",
    "RetryPolicy",
    "WaitPastDeadlineError",
    "is_resendable_once_sent",
    "is_retryable",
    "parse_retry_after",
    "retry_call",
    "set_no_backoff",
    "warn_once",
]

logger = logging.getLogger("hiobuy_async")

T = TypeVar("T")

RETRYABLE_STATUSES = frozenset({408, 429})

MAX_SERVER_WAIT = 24 * 3600.0
"""The longest wait a server may impose, in seconds: a longer `Retry-After` is ignored."""

_warned: set[str] = set()


def warn_once(kind: str, message: str, *args: object) -> None:
    """Log `message` as a warning on the `hiobuy_async` logger, once per process per `kind`.

    Args:
        kind: What the warning is about (one warning per kind).
        message: The `%`-style format.
        *args: Its arguments (never a secret).
    """
    if kind in _warned:
        return
    _warned.add(kind)
    logger.warning(message, *args)


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
    if isinstance(error, CertificateError | WaitPastDeadlineError):
        return False
    if isinstance(error, APIConnectionError):
        return True
    if isinstance(error, APIStatusError):
        return error.status_code in RETRYABLE_STATUSES or 500 <= error.status_code < 600
    return False


def is_resendable_once_sent(error: HiobuyError) -> bool:
    """Tell whether an operation that must not run twice may be sent again after `error`.

    Only when the server provably did not act on it: the request never left
    (`delivery == "not_sent"`), or the server refused it unprocessed (`429`,
    `408`).

    Args:
        error: The error an attempt raised.

    Returns:
        True for a retryable connection error that was not sent, and for 408 and 429.
    """
    if isinstance(error, APIConnectionError):
        return error.delivery == "not_sent" and is_retryable(error)
    if isinstance(error, APIStatusError):
        return error.status_code in RETRYABLE_STATUSES
    return False


class WaitPastDeadlineError(APITimeoutError):
    """A wait before sending would outlast the call's deadline: failed at once, nothing sent."""


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Parse a `Retry-After` header: delay-seconds or an HTTP date.

    A wait above `MAX_SERVER_WAIT` (24 h: a Unix timestamp sent where seconds
    were meant, a date years ahead) or in the past (a negative number, a date
    gone by) is no wait a server can mean: it is treated as absent, and a
    warning is logged once per process.

    Args:
        value: The header value.
        now: The current Unix time (for HTTP dates); defaults to the clock.

    Returns:
        Seconds to wait (0 to `MAX_SERVER_WAIT`), or `None` when absent,
        unparsable or out of bounds.
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
    if seconds < 0 or seconds > MAX_SERVER_WAIT:
        warn_once(
            "retry-after",
            "ignoring a Retry-After of %s: %s; retrying on the SDK's own backoff "
            "(logged once per process)",
            text[:40],
            "in the past" if seconds < 0 else f"more than {MAX_SERVER_WAIT:g} s ahead",
        )
        return None
    return seconds


class RetryHooks(Protocol):
    """Callbacks through which a batch coordinates the attempts of many calls."""

    async def before_attempt(self, inner: Callable[[], Awaitable[None]] | None = None) -> None:
        """Wait until an attempt may leave (shared pause, the batch's cap), around `inner`.

        Args:
            inner: The client's own gate (its quota), passed in series: the
                batch's slot is taken when `inner` lets the request go.
        """

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
    retryable: Callable[[HiobuyError], bool] = is_retryable,
) -> T:
    """Run `attempt` until it succeeds, fails for good, or retries run out.

    Every attempt counts against `policy.max_retries` and the batch's budget;
    `attempt` itself passes the send gate (the pipeline's), which waits for
    the quota and the batch's pacing.

    Args:
        attempt: Makes one attempt; receives the attempt number (from 1).
        policy: The retry policy.
        deadline: An `anyio.current_time()` moment after which no retry is
            started; the caller enforces the deadline itself.
        hooks: Batch coordination (retry budget, shared pause), if any.
        on_retry: Called with the error before each retry.
        label: What is retried, for the log records (the endpoint's name).
        retryable: Which errors are worth another attempt (`is_retryable`,
            or a narrower rule for an operation that must not run twice).

    Returns:
        What the successful attempt returned.

    Raises:
        HiobuyError: The last attempt's error, or at once an error whose
            `Retry-After` exceeds the policy's ceiling.
    """
    number = 1
    while True:
        try:
            return await attempt(number)
        except HiobuyError as error:
            delay = _delay_before_retry(error, number, policy, deadline, hooks, retryable=retryable)
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
    *,
    retryable: Callable[[HiobuyError], bool],
) -> float | None:
    """Return the wait before the next attempt, or None if there is none."""
    if not retryable(error) or number > policy.max_retries:
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
