# SPDX-License-Identifier: MIT
"""From response bytes to models: JSON decoding, the envelope, and one cattrs converter.

The converter is lenient where the API is known to vary (numbers sent as
strings, nulls, missing fields, unknown extra fields) and strict where a value
cannot mean what the model says (a price that is not a number). Structuring
runs on a fast converter; only when it fails is the input structured again
with detailed validation, to say *where* it failed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn

from ._exceptions import APIError, ResponseValidationError, sanitise_excerpt
from ._models import ImageSearchResult, Product

__all__ = ["converter", "parse_envelope", "parse_image_search", "structure_products"]

T = TypeVar("T")

try:  # optional extra "fast"
    import orjson

    _loads: Callable[[bytes], Any] = orjson.loads
except ImportError:  # pragma: no cover - depends on the environment
    _loads = json.loads

_PRODUCT_FIELDS = frozenset(a.name for a in attrs.fields(Product)) - {"extra"}
# With use_platform="1" the API sends 1688-native items; their id is `offerId`.
_NATIVE_ID_KEY = "offerId"


def _to_int(value: object, _: object = None) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise TypeError(f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return int(value.strip())
    raise TypeError(f"expected an integer, got {type(value).__name__}")


def _to_required_int(value: object, _: object = None) -> int:
    number = _to_int(value)
    if number is None:
        raise TypeError("expected an integer, got nothing")
    return number


def _to_str(value: object, _: object = None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"expected a string, got {type(value).__name__}")


def _to_decimal(value: object, _: object = None) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise TypeError(f"expected a decimal, got {value!r}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"expected a finite decimal, got {value!r}")
        # repr() gives the shortest string that round-trips: 21.8 -> "21.8".
        return Decimal(repr(value))
    if isinstance(value, int | str):
        try:
            number = Decimal(value.strip() if isinstance(value, str) else value)
        except InvalidOperation:
            raise ValueError(f"expected a decimal, got {value!r}") from None
        if not number.is_finite():
            raise ValueError(f"expected a finite decimal, got {value!r}")
        return number
    raise TypeError(f"expected a decimal, got {type(value).__name__}")


def _to_tags(value: object, _: object = None) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(_to_str(v) or "" for v in value if v is not None)
    raise TypeError(f"expected a list of tags, got {type(value).__name__}")


def _make_converter(*, detailed_validation: bool) -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=detailed_validation, forbid_extra_keys=False)
    hooks: dict[object, Callable[[object, object], object]] = {
        int: _to_required_int,
        int | None: _to_int,
        str | None: _to_str,
        Decimal | None: _to_decimal,
        tuple[str, ...]: _to_tags,
    }
    for type_, hook in hooks.items():
        # Predicates, not singledispatch: `int | None` must not also claim `int`.
        conv.register_structure_hook_func(lambda t, type_=type_: t == type_, hook)
    generated = make_dict_structure_fn(Product, conv, extra=cattrs.override(omit=True))

    def structure_product(item: Mapping[str, Any], _: object = None) -> Product:
        if not isinstance(item, Mapping):
            raise TypeError(f"expected an object, got {type(item).__name__}")
        if "num_iid" not in item and _NATIVE_ID_KEY in item:
            item = {**item, "num_iid": item[_NATIVE_ID_KEY]}
        product = generated(item, Product)
        extra = {k: v for k, v in item.items() if k not in _PRODUCT_FIELDS}
        if extra:
            object.__setattr__(product, "extra", extra)
        return product

    conv.register_structure_hook(Product, structure_product)
    return conv


converter = _make_converter(detailed_validation=False)
"""The SDK's cattrs converter, tuned for speed."""
_explaining_converter = _make_converter(detailed_validation=True)


def _describe_failure(data: object, cls: type[Any]) -> str:
    try:
        _explaining_converter.structure(data, cls)
    except cattrs.BaseValidationError as exc:
        return "; ".join(cattrs.transform_error(exc, path="items"))[:500]
    except Exception as exc:  # noqa: BLE001 - only used to explain
        return f"{type(exc).__name__}: {exc}"[:500]
    return "unexpected structuring failure"


def structure_products(items: object) -> tuple[Product, ...]:
    """Structure a JSON list of items into `Product` objects.

    Args:
        items: The decoded `item` array.

    Returns:
        The products.

    Raises:
        ResponseValidationError: The items do not fit the model; the message
            says which item and field.
    """
    if items is None:
        return ()
    if not isinstance(items, list):
        raise ResponseValidationError(
            f"items.item is a {type(items).__name__}, expected a list"
        )
    try:
        return converter.structure(items, tuple[Product, ...])
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError, AttributeError):
        reason = _describe_failure(items, tuple[Product, ...])
        raise ResponseValidationError(f"response items do not fit the model: {reason}") from None


def decode_json(body: bytes) -> Any:
    """Decode a JSON body, mapping every failure to `ResponseValidationError`.

    Args:
        body: The raw body.

    Returns:
        The decoded document.

    Raises:
        ResponseValidationError: The body is not valid JSON (or not UTF-8, or
            nested too deeply).
    """
    try:
        return _loads(body)
    except (ValueError, RecursionError, TypeError) as exc:
        # ValueError covers JSONDecodeError, orjson's error and UnicodeDecodeError.
        raise ResponseValidationError(
            f"response body is not valid JSON ({type(exc).__name__})",
            body_excerpt=sanitise_excerpt(body),
        ) from None


def _is_success(ret: object) -> bool:
    if isinstance(ret, bool):
        return False
    if isinstance(ret, int | float):
        return ret == 1
    return isinstance(ret, str) and ret.strip() == "1"


def parse_envelope(body: bytes, *, request_id: str | None = None) -> Mapping[str, Any]:
    """Decode a 2xx body and unwrap the `{"ret", "msg", "data"}` envelope.

    Args:
        body: The raw body of a 2xx response.
        request_id: The response's request id, attached to errors.

    Returns:
        The envelope's `data` mapping (empty when `data` is null or absent).

    Raises:
        APIError: `ret` is not 1.
        ResponseValidationError: The body is not JSON or not an envelope.
    """
    try:
        document = decode_json(body)
    except ResponseValidationError as exc:
        exc.request_id = request_id
        raise
    if not isinstance(document, dict) or "ret" not in document:
        raise ResponseValidationError(
            "response is not a HioBuy envelope (no 'ret')",
            request_id=request_id,
            body_excerpt=sanitise_excerpt(body),
        )
    ret = document["ret"]
    if not _is_success(ret):
        msg = document.get("msg")
        msg_text = None if msg is None else sanitise_excerpt(str(msg))
        raise APIError(
            f"API error ret={sanitise_excerpt(repr(ret), 40)}: {msg_text or 'no message'}",
            ret=ret,
            msg=msg_text,
            request_id=request_id,
            body_excerpt=sanitise_excerpt(body),
        )
    data = document.get("data")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ResponseValidationError(
            f"envelope 'data' is a {type(data).__name__}, expected an object",
            request_id=request_id,
            body_excerpt=sanitise_excerpt(body),
        )
    return data


def parse_image_search(body: bytes, *, request_id: str | None = None) -> ImageSearchResult:
    """Turn an image search response body into an `ImageSearchResult`.

    Args:
        body: The raw body of a 2xx response.
        request_id: The response's request id.

    Returns:
        The structured result.

    Raises:
        APIError: The envelope's `ret` is not 1.
        ResponseValidationError: The body does not have the documented shape.
    """
    data = parse_envelope(body, request_id=request_id)
    items_block = data.get("items")
    total: object = None
    if isinstance(items_block, dict):
        raw_items = items_block.get("item")
        total = items_block.get("total_results", data.get("total_results"))
    elif items_block is None or isinstance(items_block, list):
        raw_items = items_block
        total = data.get("total_results")
    else:
        raise ResponseValidationError(
            f"data.items is a {type(items_block).__name__}, expected an object",
            request_id=request_id,
            body_excerpt=sanitise_excerpt(body),
        )
    try:
        products = structure_products(raw_items)
        total_results = _to_int(total)
        api_type = _to_str(data.get("api_type"))
    except ResponseValidationError as exc:
        exc.request_id = request_id
        raise
    except (ValueError, TypeError):
        raise ResponseValidationError(
            "data.items.total_results or data.api_type has an unexpected type",
            request_id=request_id,
            body_excerpt=sanitise_excerpt(body),
        ) from None
    return ImageSearchResult(
        items=products,
        total_results=total_results,
        api_type=api_type,
        request_id=request_id,
        raw=data,
    )
