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
from ._meta import ResponseMeta
from ._models import (
    Address,
    ImageSearchResult,
    KeywordSearchPage,
    Order,
    OrderLine,
    OrderPreview,
    OrderSku,
    OrderSkuInfo,
    OrderSubmission,
    PriceRange,
    Product,
    ProductDetails,
    ShopNick,
    Sku,
    SkuSpec,
)
from ._outcomes import Failed, Ok, Outcome, Progress
from ._pager import KeywordPager, PagePosition, PagerItems
from ._serialise import converter, to_jsonable
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
    "Address",
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
    "Order",
    "OrderLine",
    "OrderOutcomeUnknownError",
    "OrderPreview",
    "OrderSku",
    "OrderSkuInfo",
    "OrderSubmission",
    "Outcome",
    "PagePosition",
    "PagerItems",
    "PlatformName",
    "PriceRange",
    "Product",
    "ProductDetails",
    "Progress",
    "QuotaExhaustedError",
    "RateLimitError",
    "ResponseMeta",
    "ResponseValidationError",
    "SearchStream",
    "ServerError",
    "ShopNick",
    "Sku",
    "SkuSpec",
    "Sort",
    "SortName",
    "UnknownFilterWarning",
    "WrongEventLoopError",
    "__version__",
    "converter",
    "to_jsonable",
]
