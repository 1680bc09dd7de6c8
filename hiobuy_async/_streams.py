# SPDX-License-Identifier: MIT
"""The streams `search_stream()` and `details_stream()` give, with what their outcomes carry.

The batch engine (`_batch`) knows no endpoint: its `BatchStream` is generic, and
these aliases name it for each endpoint, so `async for outcome in stream` is
typed (a bare `BatchStream` would make every outcome `Any`).
"""

from __future__ import annotations

from typing import TypeAlias

from ._batch import BatchStream
from ._endpoints.image_search import ImageQuery
from ._endpoints.product_details import DetailsQuery, ProductRef
from ._models import ImageSearchResult, ProductDetails
from ._outcomes import Failed, Ok, Outcome

__all__ = ["DetailsStream", "SearchStream"]

SearchStream: TypeAlias = BatchStream[Outcome[ImageQuery, ImageSearchResult]]
"""The stream `search_stream()` gives: each `Ok` or `Failed` carries an `ImageQuery`."""

DetailsStream: TypeAlias = BatchStream[
    Ok[DetailsQuery, ProductDetails] | Failed[DetailsQuery | ProductRef]
]
"""The stream `details_stream()` gives; a `Failed` for an invalid input carries it as given."""
