# SPDX-License-Identifier: MIT
"""What a batch yields per input (`Ok`, `Failed`) and its `Progress` snapshots.

Generic in the query and result types, so every bulk method shares them:
`search_many()` yields `Ok[ImageQuery, ImageSearchResult]` and
`Failed[ImageQuery]`, `details_many()` yields
`Ok[DetailsQuery, ProductDetails]` and `Failed[DetailsQuery | ProductRef]`.
"""

from __future__ import annotations

import sys
from typing import Any, Generic, TypeAlias

import attrs

from ._exceptions import HiobuyError
from ._meta import ResponseMeta
from ._validation import describe

if sys.version_info >= (3, 13):
    from typing import TypeVar
else:
    from typing_extensions import TypeVar

__all__ = ["Failed", "Ok", "Outcome", "Progress", "short_repr"]

# Defaults keep a bare `Ok` / `Outcome` annotation valid (as `Any`) under mypy --strict.
Q_co = TypeVar("Q_co", covariant=True, default=Any)
R_co = TypeVar("R_co", covariant=True, default=Any)

REPR_LIMIT = 80
"""Characters of a long input string kept in a repr (a 3 MB URL is cut short)."""


def short_repr(value: object) -> str:
    """Return `repr(value)`, a long string cut to `REPR_LIMIT` characters with an ellipsis.

    Args:
        value: A field's value.

    Returns:
        The repr; anything but a string is repr'd as is.
    """
    if isinstance(value, str) and len(value) > REPR_LIMIT:
        return describe(value[: REPR_LIMIT + 1], REPR_LIMIT)
    return repr(value)


@attrs.frozen
class Ok(Generic[Q_co, R_co]):
    """An input that succeeded.

    Attributes:
        index: The input's position (from 0).
        query: The query as sent (batch defaults filled in).
        result: The call's result.
    """

    index: int
    query: Q_co = attrs.field(repr=short_repr)
    result: R_co


@attrs.frozen
class Failed(Generic[Q_co]):
    """An input that failed for good (after any retries).

    Attributes:
        index: The input's position (from 0).
        query: The query (batch defaults filled in); for an input that could
            not be turned into one (a product batch's bad id or URL), the
            input as given.
        error: Why it failed; always a `HiobuyError` (`InputError` for an
            input that was invalid and never sent).
    """

    index: int
    query: Q_co = attrs.field(repr=short_repr)
    error: HiobuyError

    @property
    def meta(self) -> ResponseMeta | None:
        """What the last answer to this input said, when one came (`error.meta`).

        `None` for an input that was never sent or got no answer (a timeout,
        a connection failure).
        """
        return self.error.meta


Outcome: TypeAlias = Ok[Q_co, R_co] | Failed[Q_co]
"""What a batch yields for each input: `Ok` or `Failed`."""


@attrs.frozen
class Progress:
    """A snapshot of a batch, passed to the `progress` callback after each input.

    Attributes:
        done: Inputs finished.
        ok: Inputs that succeeded.
        failed: Inputs that failed.
        retries: Retries made so far across the batch.
        total: The number of inputs, when the input has a length.
        elapsed: Seconds since the batch started.
        cache_hits: Inputs answered from the client's cache, without a
            request (repeats of an input, answered by the batch's own
            de-duplication, are not counted again).
    """

    done: int
    ok: int
    failed: int
    retries: int
    total: int | None
    elapsed: float
    cache_hits: int = 0
