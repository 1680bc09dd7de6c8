# SPDX-License-Identifier: MIT
"""JSON for the command line: results as plain data, input lists, JSONL output and resume."""

from __future__ import annotations

import codecs
import json
import os
import re
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import IO, Any

import attrs

from .._batch import Failed, Outcome
from .._exceptions import HiobuyError
from .._models import ImageSearchResult, Product
from ._args import CliError

__all__ = [
    "JsonlWriter",
    "dumps",
    "error_dict",
    "load_finished",
    "needs_ascii",
    "open_output",
    "outcome_record",
    "product_dict",
    "read_inputs",
    "result_dict",
]


def _plain(value: object) -> Any:
    if isinstance(value, Decimal):
        # A string keeps the exact price ("21.80"); a JSON number could not.
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def product_dict(product: Product) -> dict[str, Any]:
    """Turn a product into JSON-ready data: price as a string, tags as a list.

    Args:
        product: The product.

    Returns:
        A dict with every field of `Product`, `extra` included.
    """
    return {f.name: _plain(getattr(product, f.name)) for f in attrs.fields(Product)}


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


def error_dict(error: HiobuyError) -> dict[str, str]:
    """Describe an error for a JSON line.

    Args:
        error: The error.

    Returns:
        `{"type": <class name>, "message": <str(error)>}`.
    """
    return {"type": type(error).__name__, "message": str(error)}


def outcome_record(outcome: Outcome, *, index: int) -> dict[str, Any]:
    """Build the JSON line of one `search-many` input.

    Args:
        outcome: The batch outcome.
        index: The input's position in the input file (its `outcome.index`
            counts only the inputs searched in this run).

    Returns:
        `{"index", "img", "ok", "error", "products"}`.
    """
    if isinstance(outcome, Failed):
        return {
            "index": index,
            "img": outcome.query.img,
            "ok": False,
            "error": error_dict(outcome.error),
            "products": [],
        }
    return {
        "index": index,
        "img": outcome.query.img,
        "ok": True,
        "error": None,
        "products": [product_dict(p) for p in outcome.result.items],
    }


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


def _parse_lines(lines: Iterator[str]) -> list[str]:
    urls = []
    for line in lines:
        text = line.strip()
        if text and not text.startswith("#"):
            urls.append(text)
    return urls


def read_inputs(path: str | None, stdin: IO[str]) -> list[str]:
    """Read the image URLs to search: one a line, blank lines and `#` comments skipped.

    Args:
        path: The file, or `None` / `"-"` for stdin.
        stdin: The standard input stream.

    Returns:
        The URLs, in order.

    Raises:
        CliError: The file cannot be read or is not UTF-8 text.
    """
    if path is None or path == "-":
        try:
            return _parse_lines(iter(stdin))
        except UnicodeDecodeError as exc:
            raise CliError(f"stdin is not UTF-8 text: {exc.reason}") from None
    try:
        with open(path, encoding="utf-8-sig") as file:
            return _parse_lines(iter(file))
    except UnicodeDecodeError as exc:
        raise CliError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None


def load_finished(path: str) -> set[tuple[int, str]]:
    """Find the inputs an earlier run already wrote to `path`, for `--resume`.

    A last line without its newline (the run was killed mid-write) is cut
    off the file, so that input is searched again and the file stays valid
    JSONL. Other lines that are not records are ignored.

    Args:
        path: The output file of the earlier run; it may not exist yet.

    Returns:
        The `(index, img)` pairs already written.

    Raises:
        CliError: The file exists but cannot be read or repaired.
    """
    try:
        with open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError:
        return set()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    complete = data.rfind(b"\n") + 1
    if complete < len(data):
        try:
            os.truncate(path, complete)
        except OSError as exc:
            raise CliError(f"cannot repair {path}: {exc.strerror or exc}") from None
    finished: set[tuple[int, str]] = set()
    for line in data[:complete].splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        index, img = record.get("index"), record.get("img")
        if isinstance(index, int) and not isinstance(index, bool) and isinstance(img, str):
            finished.add((index, img))
    return finished


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
            raise CliError(f"cannot write output: {exc.strerror or exc}") from None


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
