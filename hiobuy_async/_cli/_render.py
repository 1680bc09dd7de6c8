# SPDX-License-Identifier: MIT
"""Terminal output: product tables and the progress bar, with rich when installed.

rich is an optional extra (`hiobuy-async[cli]`); without it the same
information is printed as plain text, and stderr says once how to get the
nicer output.
"""

from __future__ import annotations

import codecs
import functools
import re
import time
from collections.abc import Sequence
from types import TracebackType
from typing import IO, TYPE_CHECKING

import attrs

from .._models import Product, ProductDetails
from ._args import PROG

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

__all__ = [
    "BatchProgress",
    "BatchRow",
    "Renderer",
    "format_rate",
    "have_rich",
    "summary_line",
    "terminal_text",
]

INSTALL_HINT = "pip install 'hiobuy-async[cli]'"
_TITLE_WIDTH = 48


@functools.cache
def have_rich() -> bool:
    """Tell whether rich can be imported.

    Returns:
        True when the `cli` extra is installed.
    """
    try:
        import rich  # noqa: F401, PLC0415 - rich is optional
    except ImportError:
        return False
    return True


@attrs.frozen
class BatchRow:
    """One line of the demo's overview table.

    Attributes:
        index: The input's position.
        img: The image URL.
        products: Products found, or `None` when the search failed.
        best_match: The first product's `tag_percent`.
        error: Why the search failed.
    """

    index: int
    img: str
    products: int | None
    best_match: str | None
    error: str | None


def format_rate(count: int, elapsed: float) -> str:
    """Format a rate in items per second.

    Args:
        count: Items done.
        elapsed: Seconds spent.

    Returns:
        For example `"12.5/s"`.
    """
    return f"{count / elapsed:.1f}/s" if elapsed > 0 else "-/s"


def summary_line(*, done: int, ok: int, failed: int, elapsed: float, skipped: int = 0) -> str:
    """Build the one-line summary printed at the end of a batch.

    Args:
        done: Inputs searched.
        ok: Inputs that succeeded.
        failed: Inputs that failed.
        elapsed: Seconds the batch took.
        skipped: Inputs skipped by `--resume`.

    Returns:
        For example `"10 done: 9 ok, 1 failed in 1.2 s (8.3/s)"`.
    """
    text = (
        f"{done} done: {ok} ok, {failed} failed in {elapsed:.2f} s ({format_rate(done, elapsed)})"
    )
    if skipped:
        text += f"; {skipped} skipped (already in the output)"
    return text


_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f"  # C0 (ESC, BEL, CR, LF, tab...), DEL and C1 (CSI, OSC...)
    "\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"  # bidi marks, separators
    "\ud800-\udfff]"  # lone surrogates (no encoding can carry them)
)


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    if "\ud800" <= char <= "\udfff":
        return "\ufffd"
    return char.encode("unicode_escape").decode("ascii")


def terminal_text(text: str, stream: IO[str] | None = None) -> str:
    r"""Make text from the server (or anywhere) safe to print on a terminal.

    Control characters, bidi overrides and line separators become visible
    escapes (`\x1b`, `\u202e`), so they can neither move the cursor, set the
    window title nor forge a line; a lone surrogate becomes U+FFFD, and any
    character the stream's encoding cannot carry becomes `?`.

    Args:
        text: The text.
        stream: Where it will be written; its `encoding` is honoured.

    Returns:
        The text, safe to write to `stream`.
    """
    safe = _UNSAFE.sub(_visible, text)
    encoding = getattr(stream, "encoding", None)
    if isinstance(encoding, str) and not _is_unicode(encoding):
        safe = safe.encode(encoding, "replace").decode(encoding)
    return safe


@functools.cache
def _is_unicode(encoding: str) -> bool:
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        return True  # unknown to Python: leave it to the stream
    return name.startswith(("utf-8", "utf-16", "utf-32"))


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class Renderer:
    """Prints tables to stdout and notes to stderr, with rich or without.

    Args:
        stdout: Where tables go.
        stderr: Where notes, progress and summaries go.
        use_rich: Use rich (when installed); `None` decides by availability.
    """

    def __init__(self, stdout: IO[str], stderr: IO[str], *, use_rich: bool | None = None) -> None:
        self.stdout = stdout
        self.stderr = stderr
        self.use_rich = have_rich() if use_rich is None else use_rich and have_rich()
        self._hinted = False

    def note(self, message: str) -> None:
        """Print a note on stderr.

        Args:
            message: The note.
        """
        print(terminal_text(f"{PROG}: {message}", self.stderr), file=self.stderr, flush=True)

    def line(self, text: str) -> None:
        """Print a line of text on stdout, made safe for a terminal.

        Args:
            text: The line.
        """
        print(terminal_text(text, self.stdout), file=self.stdout, flush=True)

    def hint_rich(self) -> None:
        """Say once, on stderr, how to get rich output, when rich is missing."""
        if not self.use_rich and not self._hinted:
            self._hinted = True
            self.note(f"plain output; for tables and a progress bar: {INSTALL_HINT}")

    def products(self, items: Sequence[Product], *, title: str) -> None:
        """Print a table of products: title, price, sales, match, URL.

        Args:
            items: The products.
            title: The table's caption.
        """
        rows = [
            (
                str(n),
                _cell(p.title or p.title_cn),
                _cell(p.price),
                _cell(p.sales),
                _cell(p.tag_percent),
                _cell(p.detail_url),
            )
            for n, p in enumerate(items, 1)
        ]
        headers = ("#", "title", "price", "sales", "match", "URL")
        if self.use_rich:
            self._rich_table(title, headers, rows, right=(0, 2, 3, 4))
        else:
            self.hint_rich()
            self._plain_table(title, headers, rows, right=(0, 2, 3, 4))

    def overview(self, rows: Sequence[BatchRow], *, title: str) -> None:
        """Print one line per searched image: products found or the error.

        Args:
            rows: The images.
            title: The table's caption.
        """
        cells = [
            (
                str(r.index),
                r.img,
                "failed" if r.products is None else str(r.products),
                r.error if r.error is not None else _cell(r.best_match),
            )
            for r in rows
        ]
        headers = ("#", "image", "products", "best match / error")
        if self.use_rich:
            self._rich_table(title, headers, cells, right=(0, 2))
        else:
            self.hint_rich()
            self._plain_table(title, headers, cells, right=(0, 2))

    def details(self, details: ProductDetails) -> None:
        """Print a product's details, then a table of its SKUs.

        Args:
            details: The details.
        """
        price = _cell(details.price)
        if details.max_price is not None and details.max_price != details.price:
            price = f"{price} - {details.max_price}"
        facts = [
            ("title", _cell(details.title)),
            ("title (zh)", _cell(details.title_cn)),
            ("price", price),
            ("original price", _cell(details.original_price)),
            ("shop id", _cell(details.shop_id)),
            ("SKUs", str(len(details.skus))),
        ]
        self.table(f"Product {details.num_iid}", ("field", "value"), facts, right=())
        rows = [
            (
                str(n),
                str(sku.sku_id),
                "; ".join(f"{name}: {value}" for name, value in sku.properties)
                or sku.properties_text,
                _cell(sku.price),
                _cell(sku.quantity),
            )
            for n, sku in enumerate(details.skus, 1)
        ]
        headers = ("#", "SKU id", "properties", "price", "stock")
        self.table(f"{len(rows)} SKUs of {details.num_iid}", headers, rows, right=(0, 3, 4))

    def table(
        self,
        title: str,
        headers: Sequence[str],
        rows: Sequence[Sequence[str]],
        *,
        right: Sequence[int],
    ) -> None:
        """Print a table on stdout (with rich when available); every cell made safe.

        Args:
            title: The caption.
            headers: The column names.
            rows: The cells, as text.
            right: The columns to align right.
        """
        if self.use_rich:
            self._rich_table(title, headers, rows, right=right)
        else:
            self.hint_rich()
            self._plain_table(title, headers, rows, right=right)

    def _rich_table(
        self,
        title: str,
        headers: Sequence[str],
        rows: Sequence[Sequence[str]],
        *,
        right: Sequence[int],
    ) -> None:
        from rich.console import Console  # noqa: PLC0415 - rich is optional
        from rich.table import Table  # noqa: PLC0415
        from rich.text import Text  # noqa: PLC0415

        def text(value: str) -> Text:
            # A Text is never parsed as markup: "[/]" or "[link=...]" stay text.
            return Text(terminal_text(value, self.stdout))

        table = Table(title=text(title), title_justify="left")
        for n, header in enumerate(headers):
            table.add_column(
                header,
                justify="right" if n in right else "left",
                overflow="fold",
                max_width=_TITLE_WIDTH if header == "title" else None,
            )
        for row in rows:
            table.add_row(*(text(cell) for cell in row))
        # Into a pipe or file, rows stay whole lines (for grep) instead of
        # being wrapped at rich's default 80 columns.
        width = None if self.stdout.isatty() else 10_000
        Console(file=self.stdout, highlight=False, width=width).print(table)

    def _plain_table(
        self,
        title: str,
        headers: Sequence[str],
        rows: Sequence[Sequence[str]],
        *,
        right: Sequence[int],
    ) -> None:
        rows = [
            [
                _shorten(c, _TITLE_WIDTH) if headers[n] == "title" else c
                for n, c in enumerate(terminal_text(cell, self.stdout) for cell in row)
            ]
            for row in rows
        ]
        widths = [max([len(h)] + [len(r[n]) for r in rows]) for n, h in enumerate(headers)]

        def line(cells: Sequence[str]) -> str:
            padded = [
                c.rjust(w) if n in right else c.ljust(w)
                for n, (c, w) in enumerate(zip(cells, widths, strict=True))
            ]
            return "  ".join(padded).rstrip()

        for text in (title, line(headers), line(["-" * w for w in widths])):
            print(terminal_text(text, self.stdout), file=self.stdout)
        for row in rows:
            print(terminal_text(line(row), self.stdout), file=self.stdout)
        self.stdout.flush()

    def progress(self, total: int, *, enabled: bool) -> BatchProgress:
        """Make the live progress display of a batch (on stderr).

        Args:
            total: Inputs to search.
            enabled: Show it at all (stderr is a terminal).

        Returns:
            The progress display, a context manager.
        """
        if enabled and not self.use_rich:
            self.hint_rich()
        return BatchProgress(
            self.stderr, total, enabled=enabled, use_rich=enabled and self.use_rich
        )


class BatchProgress:
    """A live progress line on stderr: done/total, ok/failed, rate, ETA.

    Args:
        stream: The terminal (stderr).
        total: Inputs to search.
        enabled: False to show nothing.
        use_rich: Draw a rich progress bar rather than a plain status line.
    """

    _PLAIN_INTERVAL = 0.1

    def __init__(self, stream: IO[str], total: int, *, enabled: bool, use_rich: bool) -> None:
        self.stream = stream
        self.total = total
        self.enabled = enabled
        self.use_rich = use_rich
        self.started = time.monotonic()
        self._last_draw = 0.0
        self._drawn = False
        self._rich: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> BatchProgress:
        self.started = time.monotonic()
        if self.enabled and self.use_rich:
            from rich.console import Console  # noqa: PLC0415 - rich is optional
            from rich.progress import (  # noqa: PLC0415
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._rich = Progress(
                TextColumn("[progress.description]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("[green]{task.fields[ok]} ok[/] [red]{task.fields[failed]} failed[/]"),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
                transient=False,
            )
            self._rich.start()
            self._task = self._rich.add_task(
                "searching", total=self.total, ok=0, failed=0, rate="-/s"
            )
        return self

    def update(self, *, done: int, ok: int, failed: int) -> None:
        """Show the latest counts.

        Args:
            done: Inputs finished.
            ok: Inputs that succeeded.
            failed: Inputs that failed.
        """
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.started
        rate = format_rate(done, elapsed)
        if self._rich is not None and self._task is not None:
            self._rich.update(self._task, completed=done, ok=ok, failed=failed, rate=rate)
            return
        now = time.monotonic()
        if done < self.total and now - self._last_draw < self._PLAIN_INTERVAL:
            return
        self._last_draw = now
        eta = "-"
        if 0 < done < self.total and elapsed > 0:
            eta = f"{(self.total - done) * elapsed / done:.0f}s"
        elif done >= self.total:
            eta = "0s"
        self.stream.write(
            f"\r{done}/{self.total} done, {ok} ok, {failed} failed, {rate}, ETA {eta}\033[K"
        )
        self.stream.flush()
        self._drawn = True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._rich is not None:
            self._rich.stop()
        elif self._drawn:
            self.stream.write("\n")
            self.stream.flush()
