# SPDX-License-Identifier: MIT
"""hiobuy_async: an async (asyncio and trio) SDK for HioBuy's marketplace image search.

```python
from hiobuy_async import AsyncHiobuy

async with AsyncHiobuy() as client:  # uuid from HIOBUY_UUID
    result = await client.image_search("https://example.com/a.jpg", platform="1688")
```
"""

from __future__ import annotations

from ._batch import Failed, Ok, Outcome, Progress, SearchStream
from ._client import DEFAULT_BASE_URL, AsyncHiobuy
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    HiobuyError,
    InputError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
)
from ._models import ImageSearchResult, Product
from ._query import ImageQuery
from ._version import __version__
from .marketplaces import LOCALES, Marketplace, UnknownFilterWarning

__all__ = [
    "DEFAULT_BASE_URL",
    "LOCALES",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncHiobuy",
    "AuthenticationError",
    "Failed",
    "HiobuyError",
    "ImageQuery",
    "ImageSearchResult",
    "InputError",
    "Marketplace",
    "Ok",
    "Outcome",
    "Product",
    "Progress",
    "RateLimitError",
    "ResponseValidationError",
    "SearchStream",
    "ServerError",
    "UnknownFilterWarning",
    "__version__",
]
