# SPDX-License-Identifier: MIT
"""`no_backoff()`: retries without the waits, for fast tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from .._retry import backoff_disabled, set_no_backoff

__all__ = ["no_backoff"]


@contextmanager
def no_backoff() -> Iterator[None]:
    """Skip the SDK's retry backoff waits inside the block; restore the previous state after.

    Retries still happen as often, and a `Retry-After` above
    `max_retry_after` still fails at once: only the sleeping is skipped. The
    switch is process-wide, so do not overlap blocks across threads.

    Yields:
        Nothing.

    Example:
        ```python
        with no_backoff():
            result = await client.image_search(url, platform="1688")
        ```
    """
    previous = backoff_disabled()
    set_no_backoff(True)
    try:
        yield
    finally:
        set_no_backoff(previous)
