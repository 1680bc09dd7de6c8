# SPDX-License-Identifier: MIT
"""The `data.items` block that image and keyword search answers share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._convert import structure_products, to_optional_int
from .._exceptions import ResponseValidationError
from .._models import Product

__all__ = ["parse_items_block"]


def parse_items_block(data: Mapping[str, Any]) -> tuple[tuple[Product, ...], int | None]:
    """Read the products and `total_results` of a search answer's `data`.

    `data.items` is normally `{"item": [...], "total_results": N}`; a bare list
    or a missing block (no products) are accepted too.

    Args:
        data: The envelope's `data`.

    Returns:
        The products, and `total_results` when the API sent one.

    Raises:
        ResponseValidationError: The block or an item does not have the
            documented shape.
    """
    block = data.get("items")
    if isinstance(block, dict):
        raw_items = block.get("item")
        total = block.get("total_results", data.get("total_results"))
    elif block is None or isinstance(block, list):
        raw_items = block
        total = data.get("total_results")
    else:
        raise ResponseValidationError(f"data.items is a {type(block).__name__}, expected an object")
    products = structure_products(raw_items)
    try:
        return products, to_optional_int(total)
    except (ValueError, TypeError):
        raise ResponseValidationError("data.items.total_results is not an integer") from None
