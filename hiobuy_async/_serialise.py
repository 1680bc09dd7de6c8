# SPDX-License-Identifier: MIT
"""Results as JSON-ready data and back: the public cattrs converter.

`converter.unstructure(result)` gives plain data `json.dumps` takes as it is:
a `Decimal` as its exact string (`"21.80"`), ids as ints, tuples as lists,
`extra` and `raw` kept. `converter.structure(data, type(result))` gives the
result back, equal to the original. The parsing converter of `_convert.py`
reads the API's answers and stays private; this one reads its own output.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_unstructure_fn

__all__ = ["converter", "to_jsonable"]


def _unstructure_decimal(value: Decimal) -> str:
    # A string keeps the exact amount ("21.80"); a JSON number could not.
    return str(value)


def _structure_decimal(value: object, _: object) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, str | int) and not isinstance(value, bool):
        try:
            amount = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"not a decimal amount: {value!r}") from None
        if amount.is_finite():
            return amount
    raise ValueError(f"not a decimal amount: {value!r}")


def _structure_int(value: object, _: object) -> int:
    # Ids are exact: an int as it is, or a digit string; never a float or a bool.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise ValueError(f"not an integer: {value!r}")


def _structure_bool(value: object, _: object) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError(f"not a boolean: {value!r}")


def _plain(value: Any) -> Any:
    # `extra` and `raw` hold JSON as decoded: exact numbers may be Decimals.
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(
        unstruct_collection_overrides={Sequence: list, tuple: list},
        forbid_extra_keys=False,
    )
    conv.register_unstructure_hook(Decimal, _unstructure_decimal)
    conv.register_structure_hook(Decimal, _structure_decimal)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(bool, _structure_bool)
    # `Mapping[str, Any]` fields (`extra`, `raw`, `data`): plain JSON data both ways.
    conv.register_unstructure_hook_func(lambda t: getattr(t, "__origin__", None) is Mapping, _plain)
    conv.register_structure_hook_func(
        lambda t: getattr(t, "__origin__", None) is Mapping,
        lambda value, _: dict(value) if isinstance(value, Mapping) else _refuse(value),
    )
    # A result's `meta` (the HTTP answer's headers, timings) and where it came
    # from (`from_cache`, `cached_at`) are no part of its data.
    conv.register_unstructure_hook_factory(
        _has_meta,
        lambda cls: make_dict_unstructure_fn(cls, conv, **_omitted(cls)),
    )
    return conv


_NOT_DATA = ("meta", "from_cache", "cached_at")


def _omitted(cls: Any) -> dict[str, Any]:
    fields = attrs.fields_dict(cls)
    return {name: cattrs.override(omit=True) for name in _NOT_DATA if name in fields}


def _has_meta(cls: Any) -> bool:
    return attrs.has(cls) and "meta" in attrs.fields_dict(cls)


def _refuse(value: object) -> dict[str, Any]:
    raise ValueError(f"not an object: {type(value).__name__}")


converter: cattrs.Converter = _make_converter()
"""The SDK's public cattrs converter, for results as JSON-ready data and back.

`converter.unstructure(result)` turns any result (`ImageSearchResult`,
`KeywordSearchPage`, `Product`, `ProductDetails`, `Sku`, `ShopNick`,
`OrderPreview`, `OrderSubmission`) into dicts, lists, strings, ints, bools
and `None`: `json.dumps` takes it as it is. Amounts are exact strings
(`"21.80"`), ids exact ints, tuples lists; `extra` and `raw` are kept, `meta`
(the HTTP answer's headers and timings) is left out.
`converter.structure(data, type(result))` gives back a result equal to the
original (`extra` and `raw` compare by nothing, as on every result).
"""


def to_jsonable(result: object) -> Any:
    """Turn a result into JSON-ready data (`json.dumps` takes it as it is).

    The same as `hiobuy_async.converter.unstructure(result)`; read it back with
    `converter.structure(data, type(result))`.

    Args:
        result: Any result of the SDK (a search result, page, product,
            details, SKU, shop nick, order preview or submission).

    Returns:
        Dicts, lists, strings, ints, bools and `None`: amounts as exact
        strings, ids as ints.

    Raises:
        TypeError: `result` is not an attrs instance.
    """
    if not attrs.has(type(result)):
        raise TypeError(f"not an SDK result: {type(result).__name__}")
    return converter.unstructure(result)
