# SPDX-License-Identifier: MIT
"""From response bytes to models: JSON decoding, the envelope, and one cattrs converter.

The converter is lenient where the API is known to vary (numbers sent as
strings, nulls, missing fields, unknown extra fields) and strict where a value
cannot mean what the model says (a price that is not a number). Structuring
runs on a fast path first: a function generated once from `Product`'s fields
that calls the very hooks the converter would call, skipping them for values
already of the right type. When the fast path cannot handle an input (an
unusual type, a bad value), the converter structures it instead, and only when
that fails too is the input structured again with detailed validation, to say
*where* it failed. The fast path therefore changes speed, never results.
"""

from __future__ import annotations

import json
import linecache
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


def _is_type(expected: object) -> Callable[[object], bool]:
    def predicate(candidate: object) -> bool:
        return candidate == expected

    return predicate


def _make_converter(*, detailed_validation: bool) -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=detailed_validation, forbid_extra_keys=False)
    # A class hook for plain `int`: cattrs' own int hook would win over a
    # predicate one (and turn True into 1, 3.7 into 3).
    conv.register_structure_hook(int, _to_required_int)
    hooks: dict[object, Callable[[object, object], object]] = {
        int | None: _to_int,
        str | None: _to_str,
        Decimal | None: _to_decimal,
        tuple[str, ...]: _to_tags,
    }
    for type_, hook in hooks.items():
        # Predicates, not singledispatch: `int | None` must not also claim `int`.
        conv.register_structure_hook_func(_is_type(type_), hook)
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


class _NotFast(Exception):
    """The fast path declines an input; the converter will structure it."""


def _field_code(field: attrs.Attribute[Any], hook: object) -> list[str] | None:
    """Code setting `v_<name>` from item `o` exactly as `hook` would, or None."""
    name, var = field.name, f"v_{field.name}"
    hook_call = f"_h_{name}({var}, _t_{name})"
    if name == "num_iid":
        return [
            f"{var} = o['num_iid'] if 'num_iid' in o else o[{_NATIVE_ID_KEY!r}]",
            f"if {var}.__class__ is not int: {var} = {hook_call}",
        ]
    # Values already of the target type pass through untouched: the hooks
    # return exactly such values unchanged. A missing key reads as None, and
    # each hook maps None to the field's default.
    if hook is _to_str and field.default is None:
        return [
            f"{var} = o.get({name!r})",
            f"if {var} is not None and {var}.__class__ is not str: {var} = {hook_call}",
        ]
    if hook is _to_int and field.default is None:
        return [
            f"{var} = o.get({name!r})",
            f"if {var} is not None and {var}.__class__ is not int: {var} = {hook_call}",
        ]
    if hook is _to_decimal and field.default is None:
        return [
            f"{var} = o.get({name!r})",
            f"if {var}.__class__ is str:",
            f"    {var} = _Decimal({var}.strip())",
            f"    if not {var}.is_finite(): raise _NotFast",
            f"elif {var} is not None: {var} = {hook_call}",
        ]
    if hook is _to_tags and field.default == ():
        return [f"{var} = o.get({name!r})", f"{var} = () if {var} is None else {hook_call}"]
    return None


def _make_fast_products() -> Callable[[list[Any]], tuple[Product, ...]] | None:
    """Generate the fast path for a list of items, or None if `Product` defeats it.

    The generated loop builds each `Product` with positional arguments in
    field order (much cheaper than keywords) and calls the converter's own
    hooks, so a success gives exactly the converter's result. Any exception
    means "ask the converter".
    """
    fields = attrs.fields(attrs.resolve_types(Product))
    namespace: dict[str, Any] = {
        "_Product": Product,
        "_Decimal": Decimal,
        "_KNOWN": _PRODUCT_FIELDS,
        "_NotFast": _NotFast,
    }
    body: list[str] = []
    args: list[str] = []
    for field in fields:
        if not field.init or field.kw_only:
            return None
        if field.name == "extra":
            args.append("extra")
            continue
        hook = converter.get_structure_hook(field.type)
        code = _field_code(field, hook)
        if code is None:
            return None
        namespace[f"_h_{field.name}"] = hook
        namespace[f"_t_{field.name}"] = field.type
        body.extend(code)
        args.append(f"v_{field.name}")
    if args[-1] != "extra" or args.count("extra") != 1:
        return None
    lines = [
        "def fast_products(items):",
        "    out = []",
        "    append = out.append",
        "    for o in items:",
        "        if o.__class__ is not dict: raise _NotFast",
        *(f"        {line}" for line in body),
        "        if _KNOWN.issuperset(o): extra = {}",
        "        else: extra = {k: x for k, x in o.items() if k not in _KNOWN}",
        f"        append(_Product({', '.join(args)}))",
        "    return tuple(out)",
    ]
    filename = "<hiobuy_async generated fast_products>"
    source = "\n".join(lines)
    # Registered so that tracebacks and profilers can show the generated lines.
    linecache.cache[filename] = (len(source), None, [f"{line}\n" for line in lines], filename)
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - generated from our own fields
    fast: Callable[[list[Any]], tuple[Product, ...]] = namespace["fast_products"]
    return fast


_fast_products = _make_fast_products()


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
        raise ResponseValidationError(f"items.item is a {type(items).__name__}, expected a list")
    if _fast_products is not None:
        try:
            return _fast_products(items)
        except Exception:  # noqa: BLE001, S110 - the converter below decides
            pass
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
        exc.body_excerpt = exc.body_excerpt or sanitise_excerpt(body)
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


def to_optional_int(value: object) -> int | None:
    """Structure an optional integer field the way the models do.

    Args:
        value: The decoded JSON value.

    Returns:
        The integer, or `None` for null, missing or empty.

    Raises:
        ValueError: Not an integer.
        TypeError: Of a type that cannot hold an integer.
    """
    return _to_int(value)


def to_optional_str(value: object) -> str | None:
    """Structure an optional text field the way the models do.

    Args:
        value: The decoded JSON value.

    Returns:
        The text (numbers as their decimal form), or `None` for null or missing.

    Raises:
        TypeError: Of a type that cannot hold text.
    """
    return _to_str(value)


def explain_failure(exc: BaseException, limit: int = 300) -> str:
    """Say in one line why a value did not structure.

    Args:
        exc: What structuring raised.
        limit: The most characters kept.

    Returns:
        The explanation.
    """
    if isinstance(exc, cattrs.BaseValidationError):
        return "; ".join(cattrs.transform_error(exc))[:limit]
    if isinstance(exc, KeyError):
        return f"missing field {exc}"[:limit]
    return f"{type(exc).__name__}: {exc}"[:limit]
