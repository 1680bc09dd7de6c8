# SPDX-License-Identifier: MIT
"""What `RedisCache` and `RedisQuota` do alike with `coredis` (the `redis` extra).

Below both `cache/` and `quota/`: it imports neither, nor the client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio

T = TypeVar("T")


def import_coredis(user: str) -> Any:
    """The `coredis` module, or an `ImportError` naming `user` and the extra to install."""
    try:
        import coredis  # noqa: PLC0415 - optional extra, imported only when used
    except ImportError as exc:
        raise ImportError(
            f"{user} needs coredis: install the extra with `pip install 'hiobuy-async[redis]'`"
        ) from exc
    return coredis


async def round_trip(
    request: Callable[[], Awaitable[T]], seconds: float
) -> tuple[bool, T | None, BaseException | None]:
    """Run one Redis exchange, given `seconds` to answer.

    Returns `(True, result, None)` when Redis answered, else `(False, None, error)`:
    the Redis or socket error, or `None` when no answer came in time.
    """
    import coredis.exceptions  # noqa: PLC0415 - loaded by import_coredis already

    failure: BaseException | None = None
    with anyio.move_on_after(seconds):
        try:
            result = await request()
        except (coredis.exceptions.RedisError, OSError) as exc:
            failure = exc
        else:
            return True, result, None
    return False, None, failure
