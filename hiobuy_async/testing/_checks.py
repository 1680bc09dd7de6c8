# SPDX-License-Identifier: MIT
"""Body checks that several endpoints of the fake share, in the real API's words."""

from __future__ import annotations

from typing import Any

from ..marketplaces import LOCALES
from ._call import Call, Refusal

__all__ = ["LOCALES_BY_PLATFORM", "body_object", "locale_on", "native_and_filters", "platform"]

LOCALES_BY_PLATFORM = {marketplace.value: locales for marketplace, locales in LOCALES.items()}


def body_object(call: Call) -> dict[str, Any] | Refusal:
    """Return the JSON object body, or why there is none.

    Args:
        call: The request.

    Returns:
        The object, or a refusal.
    """
    if not isinstance(call.document, dict):
        return Refusal("invalid request body: expected a JSON object")
    return call.document


def locale_on(platform: str, language: str) -> Refusal | None:
    """Refuse a `Language` the marketplace does not accept.

    Args:
        platform: The marketplace code.
        language: The `Language` header.

    Returns:
        A refusal, or `None` when accepted.
    """
    if language not in LOCALES_BY_PLATFORM[platform]:
        return Refusal(f"Language {language} is not supported on {platform}")
    return None


def platform(document: dict[str, Any], language: str) -> str | Refusal:
    """Return the body's `platform`, checked with the `Language` it is asked in.

    Args:
        document: The body.
        language: The `Language` header.

    Returns:
        `"1688"` or `"taobao"`, or a refusal.
    """
    value = document.get("platform")
    if not isinstance(value, str) or value not in LOCALES_BY_PLATFORM:
        return Refusal("platform is required and must be one of: taobao, 1688")
    return locale_on(value, language) or value


def native_and_filters(
    document: dict[str, Any], platform: str, *, takes_filter: bool = True
) -> tuple[bool, tuple[str, ...]] | Refusal:
    """Return `use_platform` and `filter`, which only 1688 takes.

    Args:
        document: The body.
        platform: The checked marketplace.
        takes_filter: Whether this endpoint reads `filter` (else it is ignored).

    Returns:
        `(native, filters)`, or a refusal.
    """
    use_platform = document.get("use_platform", "0")
    filters = document.get("filter") if takes_filter else None
    if use_platform not in ("0", "1", 0, 1):
        return Refusal('use_platform must be "0" or "1"')
    if filters is not None and (
        not isinstance(filters, list) or not all(isinstance(f, str) for f in filters)
    ):
        return Refusal("filter must be an array of strings")
    native = str(use_platform) == "1"
    if platform != "1688" and (native or filters):
        return Refusal("use_platform and filter are supported on 1688 only")
    return native, tuple(filters or ())
