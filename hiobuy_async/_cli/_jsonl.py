# SPDX-License-Identifier: MIT
"""JSON for the command line: results as plain data, and JSONL output."""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Mapping
from typing import IO, Any

import attrs

from .._batch import Failed, Ok, Outcome
from .._exceptions import (
    APIConnectionError,
    CertificateError,
    HiobuyError,
    InputError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
)
from .._models import ImageSearchResult, Product, ProductDetails, Sku
from .._serialise import converter
from ..marketplaces import DEFAULT_LOCALE, Marketplace
from ._args import CliError, ExitCode

__all__ = [
    "JsonlWriter",
    "details_dict",
    "details_record",
    "dumps",
    "error_dict",
    "needs_ascii",
    "open_output",
    "product_dict",
    "result_dict",
    "retryable",
    "search_record",
    "sku_dict",
]


def product_dict(product: Product) -> dict[str, Any]:
    """Turn a product into JSON-ready data: price as a string, tags as a list.

    Args:
        product: The product.

    Returns:
        A dict with every field of `Product`, `extra` included.
    """
    data: dict[str, Any] = converter.unstructure(product)
    return data


def result_dict(
    result: ImageSearchResult, *, img: str, platform: str, language: str | None
) -> dict[str, Any]:
    """Turn one image search's result into JSON-ready data.

    Args:
        result: The result.
        img: The image searched.
        platform: The marketplace code.
        language: The locale asked for, if any.

    Returns:
        The query, the result's metadata and its products.
    """
    return {
        "img": img,
        "platform": platform,
        "language": language,
        "total_results": result.total_results,
        "api_type": result.api_type,
        "request_id": result.request_id,
        "products": [product_dict(p) for p in result.items],
    }


def retryable(error: HiobuyError) -> bool:
    """Tell whether running the same input again may succeed.

    Args:
        error: Why it failed.

    Returns:
        True for failures of the moment (the server unreachable, slow,
        overloaded or rate limiting, a malformed answer); False for an
        input refused before any request, a refusal by the API, or a
        certificate that will not verify.
    """
    if isinstance(error, CertificateError):
        return False
    return isinstance(
        error, APIConnectionError | RateLimitError | ServerError | ResponseValidationError
    )


def error_dict(error: HiobuyError, *, message: str | None = None) -> dict[str, Any]:
    """Describe an error for a JSON line.

    Args:
        error: The error.
        message: What to say instead of `str(error)`.

    Returns:
        `{"type": <class name>, "message": <str(error)>, "retryable": <bool>}`:
        `retryable` tells whether `--retry-failed` may make it succeed.
    """
    return {
        "type": type(error).__name__,
        "message": str(error) if message is None else message,
        "retryable": retryable(error),
    }


def _platform_of(query: object, default: Marketplace | None) -> str | None:
    # An image query names it `platform`, a details query `marketplace`; an
    # input that failed validation may be the raw input, with neither.
    value = getattr(query, "marketplace", None) or getattr(query, "platform", None) or default
    if isinstance(value, Marketplace):
        return value.value
    return value if isinstance(value, str) else None


def _language_of(query: object, default: str | None) -> str:
    value = getattr(query, "language", None) or default
    return value if isinstance(value, str) else DEFAULT_LOCALE


def _looks_like_url(text: str) -> bool:
    # What a person could have meant as a URL: the SDK's own message says
    # what is wrong with it; anything else ("not a url", a CSV header) is no URL at all.
    return "://" in text or text.startswith("//")


def search_record(
    outcome: Outcome,
    *,
    line: int,
    img: str,
    platform: Marketplace | None = None,
    language: str | None = None,
) -> dict[str, Any]:
    """Build the JSON line of one `search-many` input.

    Args:
        outcome: The batch outcome.
        line: The input's line number in its file (from 1, blank and comment
            lines counted).
        img: The input as read.
        platform: The batch's platform, for an input that failed validation.
        language: The batch's locale, likewise.

    Returns:
        `{"line", "img", "platform", "language", "ok", "error", "products"}`.
    """
    failed = isinstance(outcome, Failed)
    error = None
    if isinstance(outcome, Failed):
        message = None
        if isinstance(outcome.error, InputError) and not _looks_like_url(img):
            message = "not a URL: expected an image URL such as https://img.example.com/a.jpg"
        error = error_dict(outcome.error, message=message)
    return {
        "line": line,
        "img": img,
        "platform": _platform_of(outcome.query, platform),
        "language": _language_of(outcome.query, language),
        "ok": not failed,
        "error": error,
        "products": [product_dict(p) for p in outcome.result.items]
        if isinstance(outcome, Ok)
        else [],
    }


def details_record(
    outcome: Any,
    *,
    line: int,
    product: str,
    platform: Marketplace | None = None,
    language: str | None = None,
) -> dict[str, Any]:
    """Build the JSON line of one `details-many` input.

    Args:
        outcome: The batch outcome (an `Ok` holding `ProductDetails`, or a `Failed`).
        line: The input's line number in its file.
        product: The input as read (an id or a URL).
        platform: The batch's platform, for an input that failed validation.
        language: The batch's locale, likewise.

    Returns:
        `{"line", "product", "platform", "language", "ok", "error", "details"}`.
    """
    failed = isinstance(outcome, Failed)
    return {
        "line": line,
        "product": product,
        "platform": _platform_of(outcome.query, platform),
        "language": _language_of(outcome.query, language),
        "ok": not failed,
        "error": error_dict(outcome.error) if isinstance(outcome, Failed) else None,
        "details": None if failed else details_dict(outcome.result),
    }


def sku_dict(sku: Sku) -> dict[str, Any]:
    """Turn a SKU into JSON-ready data: price as a string, properties as pairs.

    Args:
        sku: The SKU.

    Returns:
        A dict with every field of `Sku`.
    """
    data: dict[str, Any] = converter.unstructure(sku)
    return data


def details_dict(details: ProductDetails) -> dict[str, Any]:
    """Turn a product's details into JSON-ready data (`raw` left out: it repeats the rest).

    Args:
        details: The details.

    Returns:
        A dict with every field of `ProductDetails` but `raw`, SKUs as dicts.
    """
    data: dict[str, Any] = converter.unstructure(details)
    for name in ("raw", "from_cache", "cached_at"):
        data.pop(name, None)
    return data


# Characters json.dumps(ensure_ascii=False) leaves raw that must not be: lone
# surrogates (no UTF-8 file can hold them) and, for a terminal, DEL, C1
# controls, bidi overrides and line separators. They can only occur inside
# JSON strings, where a \uXXXX escape is the same text.
_ESCAPE = re.compile(
    "[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def _escaped(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def dumps(data: object, *, indent: int | None = None, ascii_only: bool = False) -> str:
    r"""Serialise to JSON, keeping non-ASCII titles readable.

    The text is always encodable as UTF-8 and reads back (`json.loads`) as
    exactly `data`: a lone surrogate from the server is written as its
    `\ud800` escape, as are control and bidi characters a terminal would act on.

    Args:
        data: JSON-ready data.
        indent: As for `json.dumps`.
        ascii_only: Escape every non-ASCII character (for a stream whose
            encoding is not UTF).

    Returns:
        The JSON text.
    """
    if ascii_only:
        return json.dumps(data, ensure_ascii=True, indent=indent)
    return _ESCAPE.sub(_escaped, json.dumps(data, ensure_ascii=False, indent=indent))


def needs_ascii(stream: IO[str]) -> bool:
    """Tell whether JSON for `stream` must be pure ASCII (its encoding is not UTF).

    Args:
        stream: The text stream.

    Returns:
        True when some non-ASCII characters could not be written to it.
    """
    encoding = getattr(stream, "encoding", None)
    if not isinstance(encoding, str):
        return False
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        return True
    return not name.startswith(("utf-8", "utf-16", "utf-32"))


@attrs.define
class JsonlWriter:
    """Writes one JSON object a line, flushed at once so a killed run keeps it.

    Attributes:
        stream: The text stream written to.
    """

    stream: IO[str]
    ascii_only: bool = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.ascii_only = needs_ascii(self.stream)

    def write(self, record: Mapping[str, Any]) -> None:
        """Write and flush one line.

        Args:
            record: JSON-ready data.

        Raises:
            CliError: The output cannot be written (disk full, closed pipe).
        """
        try:
            self.stream.write(dumps(record, ascii_only=self.ascii_only) + "\n")
            self.stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise CliError(f"cannot write output: {exc.strerror or exc}", ExitCode.OUTPUT) from None


def open_output(path: str, *, resume: bool) -> IO[str]:
    """Open the `--output` file: appended to with `--resume`, replaced otherwise.

    Args:
        path: The file.
        resume: Append instead of truncating.

    Returns:
        The open text stream.

    Raises:
        CliError: The file cannot be opened.
    """
    try:
        return open(path, "a" if resume else "w", encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot open {path}: {exc.strerror or exc}") from None
