# SPDX-License-Identifier: MIT
"""hiobuy_async: an async (asyncio and trio) SDK for HioBuy's marketplace API.

```python
from hiobuy_async import AsyncHiobuy

async with AsyncHiobuy() as client:  # uuid from HIOBUY_UUID
    result = await client.image_search("https://example.com/a.jpg", platform="1688")
```
"""

from __future__ import annotations

from ._batch import BatchStream
from ._client import DEFAULT_BASE_URL, AsyncHiobuy
from ._endpoints.image_search import ImageQuery
from ._endpoints.keyword_search import Sort, SortName
from ._endpoints.product_details import DetailsQuery
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    CertificateError,
    ClientClosedError,
    ClientStateError,
    HiobuyError,
    InputError,
    OrderOutcomeUnknownError,
    QuotaExhaustedError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
    WrongEventLoopError,
)
from ._models import (
    ImageSearchResult,
    KeywordSearchPage,
    Product,
    ProductDetails,
    ShopNick,
    Sku,
)
from ._outcomes import Failed, Ok, Outcome, Progress
from ._pager import KeywordPager, PagePosition, PagerItems
from ._streams import DetailsStream, SearchStream
from ._version import __version__
from .marketplaces import LOCALES, Marketplace, PlatformName, UnknownFilterWarning

__all__ = [
    "DEFAULT_BASE_URL",
    "LOCALES",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncHiobuy",
    "AuthenticationError",
    "BatchStream",
    "CertificateError",
    "ClientClosedError",
    "ClientStateError",
    "DetailsQuery",
    "DetailsStream",
    "Failed",
    "HiobuyError",
    "ImageQuery",
    "ImageSearchResult",
    "InputError",
    "KeywordPager",
    "KeywordSearchPage",
    "Marketplace",
    "Ok",
    "OrderOutcomeUnknownError",
    "Outcome",
    "PagePosition",
    "PagerItems",
    "PlatformName",
    "Product",
    "ProductDetails",
    "Progress",
    "QuotaExhaustedError",
    "RateLimitError",
    "ResponseValidationError",
    "SearchStream",
    "ServerError",
    "ShopNick",
    "Sku",
    "Sort",
    "SortName",
    "UnknownFilterWarning",
    "WrongEventLoopError",
    "__version__",
]
