# SPDX-License-Identifier: MIT
"""The response models: plain, frozen attrs classes with no behaviour and no I/O.

One module per family of answers: `_search` (products found by image or
keyword), `_details` (a product's details and SKUs), `_shop` (a shop's nick),
`_orders` (order lines, addresses and orders; a preview's fees, a submission).
"""

from __future__ import annotations

from ._details import ProductDetails, Sku
from ._orders import (
    Address,
    Order,
    OrderLine,
    OrderPreview,
    OrderSku,
    OrderSkuInfo,
    OrderSubmission,
    PriceRange,
    SkuSpec,
)
from ._search import ImageSearchResult, KeywordSearchPage, Product
from ._shop import ShopNick

__all__ = [
    "Address",
    "ImageSearchResult",
    "KeywordSearchPage",
    "Order",
    "OrderLine",
    "OrderPreview",
    "OrderSku",
    "OrderSkuInfo",
    "OrderSubmission",
    "PriceRange",
    "Product",
    "ProductDetails",
    "ShopNick",
    "Sku",
    "SkuSpec",
]
