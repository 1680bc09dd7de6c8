# SPDX-License-Identifier: MIT
"""From response bytes to models: JSON decoding, the envelope, and one cattrs converter.

The converter is lenient where the API is known to vary (numbers sent as
strings, nulls, missing fields, unknown extra fields) and strict where a value
cannot mean what the model says (a price that is not a number). Structuring
runs on a fast path first: a function generated once from `Product`'s fields
that calls the very hooks the converter would call, skipping them for values
already of the right type. When the fast path cannot handle an input (an
unusual type, a bad value), the converter structures it instead, item by item;
an item the converter refuses is read field by field: a field that cannot mean
what the model says is `None`, its value kept in `extra`, and an item without a
usable id is dropped and counted. One odd item never costs the others; only an
answer of the wrong structure fails. The fast path changes speed, never results.
"""

from __future__ import annotations

import json
import linecache
import math
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

import anyio.lowlevel
import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn

from ._exceptions import APIError, ResponseValidationError, sanitise_excerpt
from ._models import Product

__all__ = [
    "astructure_items",
    "astructure_products",
    "converter",
    "decode_json",
    "decode_json_exact",
    "explain_failure",
    "parse_envelope",
    "read_count",
    "structure_items",
    "structure_products",
    "to_optional_int",
    "to_optional_str",
]

T = TypeVar("T")

# `price_range` is not a key of the API's items: it is read from `price`.
_PRODUCT_FIELDS = frozenset(a.name for a in attrs.fields(Product)) - {"extra", "price_range"}
# With use_platform="1" the API sends 1688-native items; their id is `offerId`.
_NATIVE_ID_KEY = "offerId"
# The other 1688-native keys that fill a common field (`priceInfo.price` too).
_NATIVE_FIELDS = (
    ("subject", "title_cn"),
    ("subjectTrans", "title"),
    ("imageUrl", "pic_url"),
    ("monthSold", "sales"),
)
_OFFER_URL = "https://detail.1688.com/offer/{}.html"

# JSON ids and counts are 64-bit at most; a float is an exact integer only
# below 2**53.
_INT_LIMIT = 2**63
_EXACT_FLOAT_LIMIT = 2**53
_ASCII_SPACE = " \t\r\n"
# A price: ASCII digits, an optional fraction, no sign or exponent; below 10**12
# with at most 8 fraction digits.
_PRICE_LIMIT = 10**12
_PRICE_FRACTION_DIGITS = 8
_PLAIN_DECIMAL = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,8})?")
# A price range, as 1688 sends for a product whose SKUs differ: "21.80-25.00".
_PRICE_RANGE = re.compile(
    r"[ \t]*([0-9]{1,12}(?:\.[0-9]{1,8})?)[ \t]*[-~\uff5e]"
    r"[ \t]*([0-9]{1,12}(?:\.[0-9]{1,8})?)[ \t]*"
)


def _whole(value: object, minimum: int) -> int | None:
    """An integer >= `minimum` from a JSON value, or None for null and ""."""
    if value is None:
        return None
    if value.__class__ is int:
        number = value
    elif isinstance(value, float):
        if not value.is_integer() or abs(value) >= _EXACT_FLOAT_LIMIT:
            raise ValueError(f"expected an integer, got the float {value!r}")
        number = int(value)
    elif isinstance(value, str):
        text = value.strip(_ASCII_SPACE)
        if text == "":
            return None
        if not (text.isascii() and text.isdigit()) or len(text) > 19:
            raise ValueError(f"expected ASCII digits, got {value[:40]!r}")
        number = int(text)
    else:
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    if not minimum <= number < _INT_LIMIT:
        raise ValueError(f"expected an integer from {minimum} to 2**63-1, got {number!r}")
    return number


def _to_int(value: object, _: object = None) -> int | None:
    return _whole(value, 0)


def _to_required_int(value: object, _: object = None) -> int:
    number = _whole(value, 1)
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
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip(_ASCII_SPACE)
        if text == "":
            return None
        if _PLAIN_DECIMAL.fullmatch(text) is None:
            raise ValueError(
                "expected a plain decimal below 10**12 with at most 8 fraction digits,"
                f" got {value[:40]!r}"
            )
        return Decimal(text)
    if value.__class__ is int:
        number = Decimal(value)
    elif isinstance(value, float):
        if not 0 <= value < _PRICE_LIMIT:  # also refuses nan
            raise ValueError(f"expected a decimal from 0 to 10**12, got {value!r}")
        # repr() gives the shortest string that round-trips: 21.8 -> "21.8".
        number = Decimal(repr(value))
    else:
        raise TypeError(f"expected a decimal, got {type(value).__name__}")
    exponent = number.as_tuple().exponent
    if not 0 <= number < _PRICE_LIMIT or (
        isinstance(exponent, int) and exponent < -_PRICE_FRACTION_DIGITS
    ):
        raise ValueError(
            f"expected a decimal from 0 to 10**12 with at most 8 fraction digits, got {value!r}"
        )
    return number


def _to_tags(value: object, _: object = None) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        try:
            "".join(value)  # C speed: succeeds only if every tag is a string
        except TypeError:
            return tuple(_to_str(v) or "" for v in value if v is not None)
        return tuple(value)
    raise TypeError(f"expected a list of tags, got {type(value).__name__}")


def _from_native(item: Mapping[str, Any]) -> dict[str, Any]:
    """A 1688-native item (`use_platform="1"`) with the common fields filled from its own.

    Every native key stays (it lands in `extra`); a common key the item has
    itself wins over the native one.
    """
    common = dict(item)
    common["num_iid"] = item[_NATIVE_ID_KEY]
    for native, name in _NATIVE_FIELDS:
        if native in item and name not in item:
            common[name] = item[native]
    price_info = item.get("priceInfo")
    if isinstance(price_info, Mapping) and "price" not in item:
        common["price"] = price_info.get("price")
    if "detail_url" not in item:
        try:
            offer = _whole(item[_NATIVE_ID_KEY], 1)
        except (ValueError, TypeError):
            offer = None
        if offer is not None:
            common["detail_url"] = _OFFER_URL.format(offer)
    return common


def _price_range(value: object) -> tuple[Decimal, Decimal] | None:
    """`(low, high)` from a price range such as `"21.80-25.00"`, or None."""
    if not isinstance(value, str):
        return None
    match = _PRICE_RANGE.fullmatch(value)
    if match is None:
        return None
    low, high = Decimal(match.group(1)), Decimal(match.group(2))
    return (low, high) if low <= high else None


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
    generated = make_dict_structure_fn(
        Product,
        conv,
        extra=cattrs.override(omit=True),
        price_range=cattrs.override(omit=True),
    )

    def structure_product(item: Mapping[str, Any], _: object = None) -> Product:
        if not isinstance(item, Mapping):
            raise TypeError(f"expected an object, got {type(item).__name__}")
        if "num_iid" not in item and _NATIVE_ID_KEY in item:
            item = _from_native(item)
        product = generated(item, Product)
        extra = {k: v for k, v in item.items() if k not in _PRODUCT_FIELDS}
        if extra:
            object.__setattr__(product, "extra", extra)
        return product

    conv.register_structure_hook(Product, structure_product)
    return conv


converter = _make_converter(detailed_validation=False)
"""The SDK's cattrs converter, tuned for speed."""


class _NotFast(Exception):
    """The fast path declines an input; the converter will structure it."""


def _field_code(field: attrs.Attribute[Any], hook: object) -> list[str] | None:
    """Code setting `v_<name>` from item `o` exactly as `hook` would, or None."""
    name, var = field.name, f"v_{field.name}"
    hook_call = f"_h_{name}({var}, _t_{name})"
    if name == "num_iid":
        # No `num_iid` (a 1688-native item, or none at all): a KeyError, so
        # the converter takes the list.
        return [
            f"{var} = o['num_iid']",
            f"if {var}.__class__ is not int or not 0 < {var} < _INT_LIMIT: {var} = {hook_call}",
        ]
    if name == "price_range":
        return [f"{var} = None"]  # set only when `price` is a range: the converter's case
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
            f"if {var} is not None and ({var}.__class__ is not int"
            f" or not 0 <= {var} < _INT_LIMIT): {var} = {hook_call}",
        ]
    if hook is _to_decimal and field.default is None:
        return [
            f"{var} = o.get({name!r})",
            f"if {var}.__class__ is str and _plain_decimal({var}) is not None:",
            f"    {var} = _Decimal({var})",
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
        "_INT_LIMIT": _INT_LIMIT,
        "_plain_decimal": _PLAIN_DECIMAL.fullmatch,
    }
    body: list[str] = []
    args: list[str] = []
    for field in fields:
        if not field.init or field.kw_only:
            return None
        if field.name == "extra":
            args.append("extra")
            continue
        hook = None if field.name == "price_range" else converter.get_structure_hook(field.type)
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


# Items structured between two checkpoints of `astructure_products`: a few
# milliseconds of work at most, so a deadline or a cancel scope can stop a huge
# list between slices. Real responses (20-60 items) are one slice.
_SLICE = 512

# Each field read one by one when an item does not structure as a whole.
_SALVAGED = tuple(
    (f.name, f.type, converter.get_structure_hook(f.type))
    for f in attrs.fields(attrs.resolve_types(Product))
    if f.name not in ("num_iid", "price_range", "extra")
)
_UNREADABLE = (cattrs.BaseValidationError, ValueError, TypeError, KeyError, AttributeError)


def _describe_failure(item: object, index: int) -> str:
    """Explain why one item cannot be a product at all, naming it by its index in the list."""
    where = f"items[{index}]"
    if not isinstance(item, Mapping):
        return f"{where}: expected an object, got {type(item).__name__}"
    key = "num_iid" if "num_iid" in item or _NATIVE_ID_KEY not in item else _NATIVE_ID_KEY
    if key not in item:
        return f"{where}.num_iid: missing (and no {_NATIVE_ID_KEY})"
    try:
        _to_required_int(item[key])
    except (ValueError, TypeError) as exc:
        return f"{where}.{key}: {exc}"[:500]
    return f"{where}: unexpected structuring failure"  # pragma: no cover - defensive


def _salvaged(item: Mapping[str, Any]) -> Product | None:
    """An item that does not structure as a whole, field by field; None without an id.

    A field whose value cannot be read is left at its default, its value as
    sent kept in `extra`; a price range fills `price_range`.
    """
    if "num_iid" not in item and _NATIVE_ID_KEY in item:
        item = _from_native(item)
    try:
        num_iid = _to_required_int(item.get("num_iid"))
    except (ValueError, TypeError):
        return None
    values: dict[str, Any] = {}
    extra = {k: v for k, v in item.items() if k not in _PRODUCT_FIELDS}
    for name, type_, hook in _SALVAGED:
        if name not in item:
            continue
        value = item[name]
        try:
            values[name] = hook(value, type_)
        except _UNREADABLE:
            extra[name] = value
            if name == "price":
                values["price_range"] = _price_range(value)
    return Product(num_iid=num_iid, extra=extra, **values)


def _structure_slice(items: list[Any], start: int) -> tuple[tuple[Product, ...], int]:
    """The products of a slice of items, and how many items were dropped."""
    if _fast_products is not None:
        try:
            return _fast_products(items), 0
        except Exception:  # noqa: BLE001, S110 - the converter below decides
            pass
    products = []
    dropped = 0
    for item in items:
        if not isinstance(item, Mapping) or not _has_id(item):
            dropped += 1
            continue
        try:
            products.append(converter.structure(item, Product))
        except _UNREADABLE:
            # One odd item does not cost the others: what can be read is kept.
            product = _salvaged(item)
            if product is None:  # pragma: no cover - `_has_id` checked the id
                dropped += 1
            else:
                products.append(product)
    return tuple(products), dropped


def _has_id(item: Mapping[str, Any]) -> bool:
    """Whether an item has a usable id (checked first: it is cheap, the rest is not)."""
    key = "num_iid" if "num_iid" in item or _NATIVE_ID_KEY not in item else _NATIVE_ID_KEY
    try:
        _to_required_int(item.get(key))
    except (ValueError, TypeError):
        return False
    return True


def _checked_list(items: object) -> list[Any]:
    if not isinstance(items, list):
        raise ResponseValidationError(f"items.item is a {type(items).__name__}, expected a list")
    return items


def _none_readable(items: list[Any]) -> ResponseValidationError:
    # Only the first item is explained: the cost of an error does not grow with the list.
    return ResponseValidationError(
        f"none of the {len(items)} response items can be a product: "
        f"{_describe_failure(items[0], 0)}"
    )


def structure_items(items: object) -> tuple[tuple[Product, ...], int]:
    """Structure a JSON list of items into `Product` objects, keeping what can be read.

    An item with an unreadable field keeps that field at `None` (its value as
    sent in `extra`); an item that is not an object or has no usable id is
    dropped and counted.

    Args:
        items: The decoded `item` array.

    Returns:
        The products, and how many items were dropped.

    Raises:
        ResponseValidationError: `items` is not a list, or no item of a
            non-empty list can be a product (the first one is explained).
    """
    if items is None:
        return (), 0
    items = _checked_list(items)
    if len(items) <= _SLICE:
        products, dropped = _structure_slice(items, 0)
    else:
        collected: list[Product] = []
        dropped = 0
        for start in range(0, len(items), _SLICE):
            more, lost = _structure_slice(items[start : start + _SLICE], start)
            collected.extend(more)
            dropped += lost
        products = tuple(collected)
    if items and not products:
        raise _none_readable(items)
    return products, dropped


async def astructure_items(items: object) -> tuple[tuple[Product, ...], int]:
    """`structure_items`, with a checkpoint between slices of a long list.

    Args:
        items: The decoded `item` array.

    Returns:
        The products, and how many items were dropped.

    Raises:
        ResponseValidationError: As `structure_items`.
    """
    if items is None:
        return (), 0
    items = _checked_list(items)
    if len(items) <= _SLICE:
        products, dropped = _structure_slice(items, 0)
    else:
        collected: list[Product] = []
        dropped = 0
        for start in range(0, len(items), _SLICE):
            await anyio.lowlevel.checkpoint()
            more, lost = _structure_slice(items[start : start + _SLICE], start)
            collected.extend(more)
            dropped += lost
        products = tuple(collected)
    if items and not products:
        raise _none_readable(items)
    return products, dropped


def structure_products(items: object) -> tuple[Product, ...]:
    """`structure_items` without the count of dropped items.

    Args:
        items: The decoded `item` array.

    Returns:
        The products.

    Raises:
        ResponseValidationError: As `structure_items`.
    """
    return structure_items(items)[0]


async def astructure_products(items: object) -> tuple[Product, ...]:
    """`astructure_items` without the count of dropped items.

    Args:
        items: The decoded `item` array.

    Returns:
        The products.

    Raises:
        ResponseValidationError: As `structure_items`.
    """
    return (await astructure_items(items))[0]


# --- JSON decoding: orjson when installed, else the stdlib made to agree with it ---
#
# Both decoders must give the same document or the same error for any body.
# orjson's rules are the reference (they cost nothing on the fast path): UTF-8
# only (no BOM, no UTF-16, no surrogates, escaped or encoded), no NaN or
# Infinity, no number that overflows a double, at most 1024 nested containers,
# and an integer beyond 64 bits read as the nearest float.

_MAX_DEPTH = 1024
_I64_MIN = -(2**63)
_U64_LIMIT = 2**64


def _orjson_int(text: str) -> int | float:
    if len(text) < 19:
        return int(text)
    if len(text) <= 21:
        number = int(text)
        if _I64_MIN <= number < _U64_LIMIT:
            return number
    return _finite_float(text)


def _finite_float(text: str) -> float:
    number = float(text)
    if number in (math.inf, -math.inf):
        raise ValueError("number is infinity when parsed as double")
    return number


def _no_constant(text: str) -> None:
    raise ValueError(f"{text} is not JSON")


# Every number through a Python hook: for bodies that may hold a number
# outside orjson's range (19 digits in a row, see `_stdlib_loads`).
_STDLIB_DECODER = json.JSONDecoder(
    parse_int=_orjson_int, parse_float=_finite_float, parse_constant=_no_constant
)
# Integers parsed in C; only floats (rare in the API's answers) pass a hook,
# which refuses one that overflows a double.
_PLAIN_STDLIB_DECODER = json.JSONDecoder(parse_float=_finite_float, parse_constant=_no_constant)


def _too_deep(document: object) -> bool:
    """Whether `document` nests more containers than orjson allows (level by level)."""
    level: list[Any] = [document]
    for _ in range(_MAX_DEPTH):
        below: list[Any] = []
        extend = below.extend
        for node in level:
            extend(node.values() if node.__class__ is dict else node)
        level = [c for c in below if c.__class__ is dict or c.__class__ is list]
        if not level:
            return False
    return True


def _repaired(text: str) -> str:
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def _without_lone_surrogates(document: Any) -> Any:
    r"""`document` with each lone surrogate of its strings (keys too) replaced by U+FFFD.

    JSON may escape half of a surrogate pair alone (`"\ud800"` in the body); such a
    string cannot be encoded, written to a file or shown, so it is repaired
    here, once, rather than refused: one broken character must not cost a
    whole answer. Iterative, and in place (the document was just decoded):
    a document may nest 1024 deep.
    """
    if document.__class__ is str:
        return _repaired(document)
    pending = [document]
    while pending:
        node = pending.pop()
        if node.__class__ is dict:
            if any(_repaired(key) is not key for key in node):
                entries = [(_repaired(key), value) for key, value in node.items()]
                node.clear()
                node.update(entries)
            slots: Iterable[tuple[Any, Any]] = node.items()
        else:
            slots = enumerate(node)
        for slot, value in list(slots):
            if value.__class__ is str:
                fixed = _repaired(value)
                if fixed is not value:
                    node[slot] = fixed
            elif value.__class__ is dict or value.__class__ is list:
                pending.append(value)
    return document


def _may_hold_lone_surrogates(body: bytes) -> bool:
    return b"\\ud" in body or b"\\uD" in body


def _shape(byte: int) -> int:
    char = chr(byte)
    if "0" <= char <= "9":
        return ord("0")
    if char in "[{":
        return ord("[")
    if char in "dD":
        return ord("d")
    return byte if char in "\\u" else ord(" ")


# What the checks of `_stdlib_loads` look for, in one C pass over the body:
# digits -> "0" (a 19-digit run shows as b"0" * 19), "{" -> "[", "D" -> "d",
# backslash and "u" kept, anything else -> " ".
_SHAPES = bytes(_shape(byte) for byte in range(256))


def _stdlib_loads(body: bytes) -> Any:
    text = body.decode("utf-8")  # strict, as orjson: refuses encoded surrogates
    shapes = body.translate(_SHAPES)
    # An integer beyond 64 bits needs 19 digits in a row: only then does every
    # integer pass a Python hook (one per integer costs more than this scan).
    may_leave_range = b"0" * 19 in shapes
    decoder = _STDLIB_DECODER if may_leave_range else _PLAIN_STDLIB_DECODER
    try:
        document = decoder.decode(text)
    except RecursionError:
        # The stdlib's nesting limit is the interpreter's recursion limit less
        # the caller's stack (below 1024 on Python 3.11); lift it for this call.
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(limit + _MAX_DEPTH + 64)
        try:
            document = decoder.decode(text)
        finally:
            sys.setrecursionlimit(limit)
    if document.__class__ is not dict and document.__class__ is not list:
        return document
    if shapes.count(b"[") > _MAX_DEPTH and _too_deep(document):
        raise ValueError("nested more than 1024 deep")
    if b"\\ud" in shapes:
        return _without_lone_surrogates(document)
    return document


try:  # optional extra "fast"
    import orjson

    def _orjson_loads(body: bytes) -> Any:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            # orjson refuses a lone surrogate outright; the stdlib path repairs it.
            if _may_hold_lone_surrogates(body):
                return _stdlib_loads(body)
            raise

    _loads: Callable[[bytes], Any] = _orjson_loads
except ImportError:  # pragma: no cover - depends on the environment
    _loads = _stdlib_loads


def decode_json(body: bytes) -> Any:
    """Decode a JSON body, mapping every failure to `ResponseValidationError`.

    With or without orjson (the "fast" extra) the same body gives the same
    document or the same error.

    Args:
        body: The raw body.

    Returns:
        The decoded document.

    Raises:
        ResponseValidationError: The body is not valid UTF-8 JSON, or nests
            more than 1024 containers deep.
    """
    try:
        return _loads(body)
    except (ValueError, RecursionError, TypeError):
        # ValueError covers JSONDecodeError, orjson's error and UnicodeDecodeError;
        # the message names none of them, so that both decoders read alike.
        raise ResponseValidationError(
            "response body is not valid JSON", body_excerpt=sanitise_excerpt(body)
        ) from None


def _reject_constant(text: str) -> None:
    raise ValueError(f"{text} is not JSON")


_EXACT_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_reject_constant)


def decode_json_exact(body: bytes) -> Any:
    """Decode a JSON body with every number holding a fraction as a `Decimal`.

    The `Decimal` is built from the number's JSON text, never through a
    `float` (`1349.5` and `0.10000000000000001` stay exact). For the few
    answers that carry money as JSON numbers (order preview); small bodies.

    Args:
        body: The raw body.

    Returns:
        The decoded document.

    Raises:
        ResponseValidationError: The body is not valid UTF-8 JSON.
    """
    try:
        return _EXACT_DECODER.decode(body.decode("utf-8"))
    except (ValueError, RecursionError, TypeError):
        raise ResponseValidationError(
            "response body is not valid JSON", body_excerpt=sanitise_excerpt(body)
        ) from None


def _is_success(ret: object) -> bool:
    if isinstance(ret, bool):
        return False
    if isinstance(ret, int | float):
        return ret == 1
    return isinstance(ret, str) and ret.strip() == "1"


def parse_envelope(
    body: bytes, *, request_id: str | None = None, exact_numbers: bool = False
) -> Mapping[str, Any]:
    """Decode a 2xx body and unwrap the `{"ret", "msg", "data"}` envelope.

    Args:
        body: The raw body of a 2xx response.
        request_id: The response's request id, attached to errors.
        exact_numbers: Decode numbers with a fraction as `Decimal`, from
            their JSON text (`decode_json_exact`).

    Returns:
        The envelope's `data` mapping (empty when `data` is null, absent, or
        `[]`, PHP's empty map).

    Raises:
        APIError: `ret` is not 1.
        ResponseValidationError: The body is not JSON or not an envelope.
    """
    try:
        document = decode_json_exact(body) if exact_numbers else decode_json(body)
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
    if data is None or data == []:  # PHP backends send an empty map as []
        return {}
    if not isinstance(data, dict):
        raise ResponseValidationError(
            f"envelope 'data' is a {type(data).__name__}, expected an object",
            request_id=request_id,
            body_excerpt=sanitise_excerpt(body),
        )
    return data


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


def read_count(value: object) -> int | None:
    """Read a count the API sends (`total_results`, `totalRecords`), or unknown.

    Args:
        value: The decoded JSON value.

    Returns:
        The count, or `None` when missing, null, or not a count (`-1`,
        `"1,000"`, `12.5`, `true`): an odd count never costs the answer.
    """
    try:
        return _whole(value, 0)
    except (ValueError, TypeError):
        return None


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
