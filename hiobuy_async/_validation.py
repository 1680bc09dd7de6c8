# SPDX-License-Identifier: MIT
"""Checks of caller-supplied values shared by every endpoint and option.

Pure functions, no I/O: each returns the value in the form the SDK sends, or
raises `InputError` naming the argument. A bool is never accepted as a
number (`True` is an `int` to Python, never to a caller).
"""

from __future__ import annotations

import ipaddress
import math
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from ._exceptions import InputError

__all__ = [
    "MAX_PRICE",
    "check_amount",
    "check_currency",
    "check_http_url",
    "check_int",
    "check_positive",
    "check_product_id",
    "check_scalar",
    "check_text",
    "check_token",
    "describe",
    "is_loopback_host",
]

MAX_PRICE = Decimal(10) ** 12
"""Prices at or above this are refused: no marketplace lists such a product."""
_MAX_PRICE_DECIMALS = 8
_MAX_ID_DIGITS = 20


def describe(value: object, limit: int = 60) -> str:
    """Return a short `repr` of a caller's value, for an error message.

    Args:
        value: The value.
        limit: The most characters kept.

    Returns:
        The `repr`, cut with an ellipsis past `limit` characters.
    """
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def check_int(
    name: str, value: object, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """Check that `value` is an `int` (not a bool) within bounds.

    Args:
        name: The argument's name, for the message.
        value: The value.
        minimum: The smallest accepted value, if any.
        maximum: The largest accepted value, if any.

    Returns:
        The value.

    Raises:
        InputError: Not an int, a bool, or out of bounds.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{name} must be an integer, got {describe(value)}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        low = "" if minimum is None else f" >= {minimum}"
        high = "" if maximum is None else f" <= {maximum}"
        joined = " and".join(part for part in (low, high) if part)
        raise InputError(f"{name} must be an integer{joined}, got {value}")
    return value


def check_positive(name: str, value: object) -> float:
    """Check that `value` is a finite number above zero (not a bool).

    Args:
        name: The argument's name, for the message.
        value: The value.

    Returns:
        The value.

    Raises:
        InputError: Not an int or float, a bool, zero, negative, or not finite.
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not value > 0
    ):
        raise InputError(f"{name} must be a positive, finite number, got {describe(value)}")
    return value


def check_amount(name: str, value: object) -> Decimal:
    """Check a money amount given as `Decimal`, `int` or a plain decimal string.

    Floats are refused: they cannot hold most prices exactly.

    Args:
        name: The argument's name, for the message.
        value: The amount.

    Returns:
        The amount as a `Decimal`.

    Raises:
        InputError: Another type, not a plain decimal, negative, not finite,
            too many decimals, or at least `MAX_PRICE`.
    """
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise InputError(
            f"{name} must be a Decimal, an int or a decimal string, got {describe(value)}"
        )
    if isinstance(value, str):
        text = value.strip()
        integral, _, fraction = text.partition(".")
        if not (integral or fraction) or not (integral + fraction).isascii():
            raise InputError(
                f"{name} must be a plain decimal such as '12.50', got {describe(value)}"
            )
        if not (integral or "0").isdigit() or not (fraction or "0").isdigit():
            raise InputError(
                f"{name} must be a plain decimal such as '12.50', got {describe(value)}"
            )
        try:
            amount = Decimal(text)
        except InvalidOperation:  # pragma: no cover - the digit checks above exclude it
            raise InputError(f"{name} is not a decimal: {describe(value)}") from None
    else:
        amount = Decimal(value)
    if not amount.is_finite():
        raise InputError(f"{name} must be finite, got {describe(value)}")
    if amount < 0:
        raise InputError(f"{name} must not be negative, got {describe(value)}")
    if amount >= MAX_PRICE:
        raise InputError(f"{name} must be below {MAX_PRICE:,}, got {describe(value)}")
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > _MAX_PRICE_DECIMALS:
        raise InputError(f"{name} has more than {_MAX_PRICE_DECIMALS} decimals: {describe(value)}")
    return amount


def check_product_id(value: object, *, name: str = "product") -> int:
    """Check a marketplace product id given as an `int` or a string of digits.

    Args:
        value: The id.
        name: The argument's name, for the message.

    Returns:
        The id as an int.

    Raises:
        InputError: A bool, not an int or digit string (ASCII digits only: no
            sign, no underscore, no other script's digits), zero, or longer
            than 20 digits.
    """
    if isinstance(value, str):
        text = value.strip()
        if not text.isascii() or not text.isdigit():
            raise InputError(
                f"{name} id must be ASCII digits only (e.g. '808368541552'), got {describe(value)}"
            )
        value = int(text)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{name} must be a product id, a URL or a Product, got {describe(value)}")
    if value <= 0 or len(str(value)) > _MAX_ID_DIGITS:
        raise InputError(f"{name} id must be a positive id of at most 20 digits, got {value}")
    return value


def check_token(name: str, value: object, *, max_length: int) -> str:
    """Check an opaque identifier: printable ASCII, no whitespace, not empty.

    Args:
        name: The argument's name, for the message.
        value: The identifier.
        max_length: The most characters accepted.

    Returns:
        The identifier, unchanged.

    Raises:
        InputError: Not a string, empty, too long, or holding whitespace,
            control or non-ASCII characters.
    """
    if not isinstance(value, str):
        raise InputError(f"{name} must be a string, got {describe(value)}")
    if not value:
        raise InputError(f"{name} must not be empty")
    if len(value) > max_length:
        raise InputError(f"{name} is {len(value)} characters long; at most {max_length} accepted")
    if not value.isascii() or not value.isprintable() or any(ch.isspace() for ch in value):
        raise InputError(
            f"{name} must be printable ASCII without whitespace, got {describe(value)}"
        )
    return value


def check_http_url(name: str, value: object, *, max_length: int) -> str:
    """Check that `value` is an absolute http(s) URL with a host.

    Args:
        name: The argument's name, for the message.
        value: The URL.
        max_length: The most characters accepted.

    Returns:
        The URL, unchanged.

    Raises:
        InputError: Not a string, empty, too long, holding whitespace or
            control characters, or not an absolute `http`/`https` URL.
    """
    if not isinstance(value, str):
        raise InputError(f"{name} must be a URL string, not {type(value).__name__}")
    if not value:
        raise InputError(f"{name} must not be empty")
    if len(value) > max_length:
        raise InputError(
            f"{name} is {len(value)} characters long; at most {max_length} are accepted"
        )
    # isprintable() is False for every control and separator character but
    # the ASCII space, so this rejects all whitespace and control characters.
    if not value.isprintable() or " " in value:
        if "://" not in value:  # words, not a URL with a stray space: say what is expected
            raise InputError(f"{name} must be an absolute http(s) URL, got {describe(value)}")
        raise InputError(f"{name} must not contain whitespace or control characters")
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError as exc:
        raise InputError(f"{name} is not a valid URL: {exc}") from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise InputError(f"{name} must be an absolute http(s) URL, got {describe(value)}")
    return value


def check_text(name: str, value: object, *, max_length: int, personal: bool = False) -> str:
    """Check a free text field: a string, not blank, without control characters.

    Args:
        name: The field's name, for the message.
        value: The text.
        max_length: The most characters accepted.
        personal: The text is personal data (an address, a phone number):
            the message never quotes it.

    Returns:
        The text, unchanged.

    Raises:
        InputError: Not a string, blank, too long, or holding a control
            character (line breaks included).
    """
    if not isinstance(value, str):
        raise InputError(f"{name} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise InputError(f"{name} must not be empty")
    if len(value) > max_length:
        raise InputError(f"{name} is {len(value)} characters long; at most {max_length} accepted")
    if not value.isprintable():
        shown = "" if personal else f": {describe(value)}"
        raise InputError(f"{name} must not contain control characters{shown}")
    return value


def check_scalar(name: str, value: object, *, max_length: int) -> str:
    """Check an id or code sent as a string: a non-empty string, or an `int`.

    The API documents its numeric parameters as strings: an `int` is sent as
    its decimal string.

    Args:
        name: The field's name, for the message.
        value: The value.
        max_length: The most characters accepted.

    Returns:
        The string to send.

    Raises:
        InputError: A bool, a float, another type, blank, too long, or
            holding a control character.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise InputError(f"{name} must be a string or an int, got {describe(value)}")
    return check_text(name, value, max_length=max_length)


def check_currency(value: object) -> str:
    """Check a settlement currency code (the `Currency` header), e.g. `"USD"`.

    Args:
        value: The code, in any letter case.

    Returns:
        The code in capitals.

    Raises:
        InputError: Not three ASCII letters.
    """
    if not isinstance(value, str) or len(value) != 3 or not (value.isascii() and value.isalpha()):
        raise InputError(
            f"currency must be a three-letter code such as 'USD', got {describe(value)}"
        )
    return value.upper()


def is_loopback_host(host: str) -> bool:
    """Tell whether `host` names this machine (`localhost`, 127.0.0.0/8, ::1).

    Args:
        host: A host name or IP address, without port or brackets.

    Returns:
        True for loopback hosts.
    """
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
