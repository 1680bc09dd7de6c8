# SPDX-License-Identifier: MIT
"""The `data.items` block that image and keyword search answers share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._convert import astructure_products, structure_products, to_optional_int
from .._exceptions import ResponseValidationError
from .._models import Product

__all__ = ["items_block", "parse_items", "parse_items_now"]


def items_block(data: Mapping[str, Any]) -> tuple[object, int | None]:
    """Find the raw item list and `total_results` of a search answer's `data`.

    `data.items` is normally `{"item": [...], "total_results": N}`; a bare list
    or a missing block (no products) are accepted too.

    Args:
        data: The envelope's `data`.

    Returns:
        The raw items (not yet checked), and `total_results` when sent.

    Raises:
        ResponseValidationError: The block or `total_results` has the wrong shape.
    """
    block = data.get("items")
    if isinstance(block, dict):
        raw_items, total = block.get("item"), block.get("total_results", data.get("total_results"))
    elif block is None or isinstance(block, list):
        raw_items, total = block, data.get("total_results")
    else:
        raise ResponseValidationError(f"data.items is a {type(block).__name__}, expected an object")
    try:
        return raw_items, to_optional_int(total)
    except (ValueError, TypeError):
        raise ResponseValidationError("data.items.total_results is not a count") from None


async def parse_items(data: Mapping[str, Any]) -> tuple[tuple[Product, ...], int | None]:
    """Structure the products of a search answer, yielding to the event loop on long lists.

    Args:
        data: The envelope's `data`.

    Returns:
        The products, and `total_results` when the API sent one.

    Raises:
        ResponseValidationError: The block or an item does not fit the model.
    """
    raw_items, total = items_block(data)
    return await astructure_products(raw_items), total


def parse_items_now(data: Mapping[str, Any]) -> tuple[tuple[Product, ...], int | None]:
    """`parse_items` in one synchronous step, for code outside an event loop.

    Args:
        data: The envelope's `data`.

    Returns:
        The products, and `total_results` when the API sent one.

    Raises:
        ResponseValidationError: The block or an item does not fit the model.
    """
    raw_items, total = items_block(data)
    return structure_products(raw_items), total
