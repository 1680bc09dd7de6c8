# SPDX-License-Identifier: MIT
"""The `data.items` block that image and keyword search answers share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._convert import astructure_items, read_count, structure_items
from .._exceptions import ResponseValidationError
from .._models import Product

__all__ = ["items_block", "parse_items", "parse_items_now"]

# 1688's own page object (`use_platform="1"`): `{"totalRecords": N, "data": [...]}`.
_NATIVE_TOTAL = "totalRecords"
_NATIVE_ITEMS = "data"


def _native_page(block: object) -> Mapping[str, Any] | None:
    if isinstance(block, Mapping) and (
        _NATIVE_TOTAL in block or isinstance(block.get(_NATIVE_ITEMS), list)
    ):
        return block
    return None


def _holds_a_list(data: Mapping[str, Any]) -> bool:
    """Whether `data` holds a non-empty list, at its top level or one below."""
    for value in data.values():
        if isinstance(value, list) and value:
            return True
        if isinstance(value, Mapping) and any(isinstance(v, list) and v for v in value.values()):
            return True
    return False


def items_block(data: Mapping[str, Any]) -> tuple[object, int | None]:
    """Find the raw item list and the result count of a search answer's `data`.

    `data.items` is normally `{"item": [...], "total_results": N}`; a bare list
    or a missing block (no products) are accepted too, and so is 1688's own
    page object (`{"totalRecords": N, "data": [...]}` of native items, sent
    for `use_platform="1"`) as `data.items` or `data.items.item`, as `data`
    itself, or under `data.result` or `data.data`. A count that is not one
    (`-1`, `"1,000"`, `12.5`, `true`) reads as unknown (`None`).

    Args:
        data: The envelope's `data`.

    Returns:
        The raw items (not yet checked), and the count when sent.

    Raises:
        ResponseValidationError: The block has the wrong shape, or the answer
            holds a list in no known shape (never read as "no products").
    """
    block = data.get("items")
    if isinstance(block, dict):
        inner = block.get("item")
        if isinstance(inner, Mapping):
            native = _native_page(inner)  # else refused below as "not a list"
        else:
            native = None if "item" in block else _native_page(block)
        if native is None:
            return block.get("item"), read_count(
                block.get("total_results", data.get("total_results"))
            )
        return native.get(_NATIVE_ITEMS), read_count(native.get(_NATIVE_TOTAL))
    if isinstance(block, list):
        return block, read_count(data.get("total_results"))
    if block is not None:
        raise ResponseValidationError(f"data.items is a {type(block).__name__}, expected an object")
    for candidate in (data, data.get("result"), data.get(_NATIVE_ITEMS)):
        native = _native_page(candidate)
        if native is not None:
            return native.get(_NATIVE_ITEMS), read_count(native.get(_NATIVE_TOTAL))
    if _holds_a_list(data):
        keys = ", ".join(sorted(map(str, data)))[:200]
        raise ResponseValidationError(
            "the answer holds no item list in a known shape (data.items.item, or 1688's "
            f"totalRecords and data[]); its keys: {keys}"
        )
    return None, read_count(data.get("total_results"))


async def parse_items(data: Mapping[str, Any]) -> tuple[tuple[Product, ...], int | None, int]:
    """Structure the products of a search answer, yielding to the event loop on long lists.

    Args:
        data: The envelope's `data`.

    Returns:
        The products, the count when the API sent one, and how many items
        were dropped (not an object, or without a usable id).

    Raises:
        ResponseValidationError: The block has the wrong shape, or no item
            can be a product.
    """
    raw_items, total = items_block(data)
    products, dropped = await astructure_items(raw_items)
    return products, total, dropped


def parse_items_now(data: Mapping[str, Any]) -> tuple[tuple[Product, ...], int | None, int]:
    """`parse_items` in one synchronous step, for code outside an event loop.

    Args:
        data: The envelope's `data`.

    Returns:
        The products, the count when the API sent one, and how many items
        were dropped.

    Raises:
        ResponseValidationError: The block has the wrong shape, or no item
            can be a product.
    """
    raw_items, total = items_block(data)
    products, dropped = structure_items(raw_items)
    return products, total, dropped
