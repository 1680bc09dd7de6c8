# SPDX-License-Identifier: MIT
"""Marketplaces, their locales, and validation of search arguments.

Everything here is pure: no I/O, no httpx. Every check runs before the SDK
sends a request, so bad input fails fast with an `InputError` and costs no
API call.
"""

from __future__ import annotations

import difflib
import enum
import warnings
from collections.abc import Collection, Iterable
from typing import Literal

from ._exceptions import InputError
from ._validation import check_http_url, is_loopback_host

__all__ = [
    "DEFAULT_LOCALE",
    "FILTERS_1688",
    "LOCALES",
    "MAX_IMAGE_URL_LENGTH",
    "Marketplace",
    "PlatformName",
    "UnknownFilterWarning",
    "is_loopback_host",
    "resolve_locale",
    "validate_filters",
    "validate_image_url",
    "validate_locale",
    "validate_marketplace",
    "validate_use_platform",
]

MAX_IMAGE_URL_LENGTH = 4096
"""Longest image URL accepted; longer ones are rejected before any request."""


PlatformName = Literal["taobao", "1688", "Taobao", "TAOBAO"]
"""A marketplace by its `platform` code (matched in any letter case at run time)."""


class Marketplace(str, enum.Enum):
    """A marketplace HioBuy searches; the value is the API's `platform` code."""

    TAOBAO = "taobao"
    """Taobao (taobao.com)."""
    ALIBABA_1688 = "1688"
    """1688 (1688.com), Alibaba's wholesale marketplace."""

    def __str__(self) -> str:
        return self.value


LOCALES: dict[Marketplace, tuple[str, ...]] = {
    Marketplace.TAOBAO: ("zh_CN", "en_US", "vi_VN"),
    Marketplace.ALIBABA_1688: (
        "zh_CN",
        "en_US",
        "ko_KR",
        "ja",
        "ru_RU",
        "vi_VN",
        "es_ES",
        "ar",
    ),
}
"""The `Language` values each marketplace accepts (the API's own table)."""

DEFAULT_LOCALE = "zh_CN"
"""The locale the API uses when no `Language` header is sent."""

FILTERS_1688: frozenset[str] = frozenset(
    {
        "certifiedFactory",
        "shipInToday",
        "shipIn24Hours",
        "shipIn48Hours",
        "noReason7DReturn",
        "isOnePsale",
        "isOnePsaleFreePost",
        "new7",
        "new30",
        "1688Selection",
        "isQqyx",
        "jxhy",
        "isSelect",
        "totalEpScoreLv1",
        "totalEpScoreLv2",
        "totalEpScoreLv3",
        "totalEpScoreLv4",
        "getRate24HLv1",
        "getRate24HLv2",
        "getRate24HLv3",
        "getRate48HLv1",
        "getRate48HLv2",
        "getRate48HLv3",
        "qrr0",
        "qrr1",
        "qrr5",
        "qrr10",
    }
)
"""Filter values documented by 1688's cross-border search (HioBuy forwards them)."""


class UnknownFilterWarning(UserWarning):
    """A 1688 filter value that is not in the documented list.

    HioBuy's own filter list is not public, so unknown values are sent anyway
    and only warned about.
    """


def validate_marketplace(platform: Marketplace | str) -> Marketplace:
    """Return the `Marketplace` for a platform given as an enum or its code.

    Like locales, platform codes are matched in any letter case, around
    surrounding whitespace: `"Taobao"` is `Marketplace.TAOBAO`.

    Args:
        platform: `Marketplace.TAOBAO`, `Marketplace.ALIBABA_1688`, `"taobao"`
            or `"1688"`.

    Returns:
        The matching `Marketplace`.

    Raises:
        InputError: The platform is not one HioBuy supports.
    """
    if isinstance(platform, Marketplace):
        return platform
    if isinstance(platform, str):
        try:
            return Marketplace(platform.strip().lower())
        except ValueError:
            pass
    supported = ", ".join(repr(m.value) for m in Marketplace)
    raise InputError(f"unknown platform {platform!r}; expected one of {supported}")


def _locale_key(text: str) -> str:
    return text.strip().replace("-", "_").casefold()


def resolve_locale(language: object, locales: Collection[str], *, where: str) -> str:
    """Return the API's spelling of `language`, which must be one of `locales`.

    The rule, the same as for platform codes: letter case, surrounding
    whitespace and `-` for `_` do not matter, so `"en-us"` and `"EN_US"` are
    `"en_US"`. Anything else is refused; when a locale of the same language
    exists (`"en"`, `"en_GB"` for `"en_US"`), the error suggests it.

    Args:
        language: The locale as given.
        locales: The accepted locales, in the API's spelling.
        where: Where they are accepted, for the error message (`"on 1688"`).

    Returns:
        The matching locale, as the API spells it.

    Raises:
        InputError: `language` is not a string, or matches none of `locales`.
    """
    if not isinstance(language, str):
        raise InputError(
            f"language must be a locale string such as 'en_US', not {type(language).__name__}"
        )
    key = _locale_key(language)
    for locale in locales:
        if _locale_key(locale) == key:
            return locale
    base = key.split("_", 1)[0]
    similar = [locale for locale in locales if _locale_key(locale).split("_", 1)[0] == base]
    hint = f": did you mean {similar[0]!r}?" if base and similar else ";"
    raise InputError(
        f"language {_excerpt(language)!r} is not supported {where}{hint} "
        f"expected one of {', '.join(locales)}"
    )


def validate_locale(marketplace: Marketplace, language: str | None) -> str | None:
    """Check that `language` is a locale the marketplace accepts.

    Matched as `resolve_locale` does: in any letter case, with `-` or `_`.

    Args:
        marketplace: The marketplace searched.
        language: A locale code such as `"en_US"`, or `None` for the API's
            default (`zh_CN`).

    Returns:
        The locale as the API spells it (`"en-us"` gives `"en_US"`), or `None`.

    Raises:
        InputError: The locale is not a string, or not in the marketplace's
            table (the message suggests a locale of the same language, if any).
    """
    if language is None:
        return None
    return resolve_locale(language, LOCALES[marketplace], where=f"on {marketplace.value}")


def validate_filters(
    marketplace: Marketplace, filters: Iterable[str] | None, *, stacklevel: int = 2
) -> tuple[str, ...]:
    """Check search filters; they exist on 1688 only.

    Args:
        marketplace: The marketplace searched.
        filters: Filter values, or `None`.
        stacklevel: Passed to `warnings.warn` for unknown values.

    Returns:
        The filters as a tuple (empty when none were given).

    Raises:
        InputError: Filters were given for Taobao, a value is not a non-empty
            string, or a bare string or a non-iterable was passed instead of a list.
    """
    if filters is None:
        return ()
    if isinstance(filters, str | bytes):
        raise InputError("filters must be a list of strings, not a single string")
    if not isinstance(filters, Iterable):
        raise InputError(f"filters must be a list of strings, not {type(filters).__name__}")
    values = tuple(filters)
    if not values:
        return ()
    if marketplace is not Marketplace.ALIBABA_1688:
        raise InputError("filters are supported on 1688 only")
    for value in values:
        if not isinstance(value, str) or not value or not value.isprintable():
            raise InputError(f"invalid filter value {value!r}")
    unknown = sorted(set(values) - FILTERS_1688)
    if unknown:
        named = ", ".join(_with_suggestion(value) for value in unknown)
        warnings.warn(
            f"unknown 1688 filter value(s) {named}; sent anyway",
            UnknownFilterWarning,
            stacklevel=stacklevel,
        )
    return values


def _with_suggestion(value: str) -> str:
    by_case = {known.lower(): known for known in FILTERS_1688}
    close = difflib.get_close_matches(value.lower(), by_case, n=1, cutoff=0.8)
    return f"{value} (did you mean {by_case[close[0]]}?)" if close else value


def validate_use_platform(marketplace: Marketplace, use_platform: bool) -> bool:
    """Check the `use_platform` option, which exists on 1688 only.

    Args:
        marketplace: The marketplace searched.
        use_platform: Whether 1688-native response fields are requested.

    Returns:
        `use_platform`, unchanged.

    Raises:
        InputError: `use_platform` is not a bool, or is true for Taobao.
    """
    if not isinstance(use_platform, bool):
        raise InputError(f"use_platform must be a bool, not {type(use_platform).__name__}")
    if use_platform and marketplace is not Marketplace.ALIBABA_1688:
        raise InputError("use_platform is supported on 1688 only")
    return use_platform


def validate_image_url(img: str) -> str:
    """Check that `img` is an absolute, public-looking http(s) URL.

    Surrounding whitespace (from a pasted or read line) is dropped, and a
    protocol-relative URL (`//img.alicdn.com/x.jpg`, as marketplace pages
    write image URLs) gets `https:`.

    Args:
        img: The image URL the API will fetch.

    Returns:
        The URL as sent: stripped, and with `https:` before a leading `//`.

    Raises:
        InputError: Not a string, empty, longer than `MAX_IMAGE_URL_LENGTH`,
            holding whitespace or control characters, or not an absolute
            `http`/`https` URL with a host.
    """
    if isinstance(img, str):
        img = img.strip()
        if img.startswith("//"):
            img = "https:" + img
    return check_http_url("img", img, max_length=MAX_IMAGE_URL_LENGTH)


def _excerpt(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
