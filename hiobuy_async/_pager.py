# SPDX-License-Identifier: MIT
"""`KeywordPager`: the pages of a keyword search, fetched one at a time as the caller asks.

Classes with `__anext__`, not async generators: nothing runs between two
`__anext__` calls, so a `break` leaves no request in flight and no generator
for the event loop (or trio's finaliser) to close later.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Literal, NoReturn

import attrs

from ._exceptions import InputError
from ._models import KeywordSearchPage, Product
from ._validation import check_int

__all__ = ["KeywordPager", "PagePosition", "StopReason"]

StopReason = Literal["last_page", "max_pages", "max_items", "repeated_page"]

_HOW = "use `async for product in pager.items()` (or `async for page in pager`)"


def _misuse(what: str) -> NoReturn:
    raise TypeError(f"{what}: {_HOW}")


@attrs.frozen
class PagePosition:
    """Where a keyword search stands: a page, and how many of its products were handed out.

    Pass it as `start=` to `AsyncHiobuy.keyword_search_pages()` to continue
    with the next product.

    Attributes:
        page: The page number, from 1.
        offset: Products of that page already handed out.
    """

    page: int
    offset: int = 0


def _check_start(start: int | PagePosition) -> PagePosition:
    if isinstance(start, PagePosition):
        check_int("start.page", start.page, minimum=1)
        check_int("start.offset", start.offset, minimum=0)
        return start
    if isinstance(start, bool) or not isinstance(start, int):
        raise InputError(f"start must be a page number or a PagePosition, got {start!r}")
    return PagePosition(check_int("start", start, minimum=1))


class KeywordPager:
    """The pages of one keyword search, in order.

    `async for page in pager` yields `KeywordSearchPage`s; `async for product
    in pager.items()` yields their products. Each page is fetched only when
    the caller asks for more, and none is fetched once the results are known
    to be exhausted: after a short or empty page, once `page * page_size`
    reaches `total_results`, at `max_pages`, at `max_items`, or when a page
    repeats the previous page's products (an API ignoring `page`).

    A page yielded holds only the products not handed out before: the first
    one skips `start.offset` products and the last stops at `max_items`.

    Attributes:
        stop_reason: Why iteration ended (`"last_page"`, `"max_pages"`,
            `"max_items"` or `"repeated_page"`), or `None` while it has not.
            A last page cut short by `max_items` ends with `"max_items"`:
            `"last_page"` means every product was handed out.
    """

    def __init__(
        self,
        fetch: Callable[[int], Awaitable[KeywordSearchPage]],
        *,
        start: int | PagePosition = 1,
        max_pages: int | None = None,
        max_items: int | None = None,
    ) -> None:
        position = _check_start(start)
        if max_pages is not None:
            check_int("max_pages", max_pages, minimum=1)
        if max_items is not None:
            check_int("max_items", max_items, minimum=1)
        self._fetch = fetch
        self._max_pages = max_pages
        self._max_items = max_items
        self._next_page = position.page
        self._skip = position.offset
        self._position = position
        self._pages_fetched = 0
        self._items_out = 0
        self._previous_ids: tuple[int, ...] | None = None
        self._seen_last = False
        self.stop_reason: StopReason | None = None

    @property
    def resume_from(self) -> PagePosition:
        """Where to start again to get the product after the last one handed out."""
        return self._position

    @property
    def pages_fetched(self) -> int:
        """Requests made so far."""
        return self._pages_fetched

    def __aiter__(self) -> KeywordPager:
        return self

    async def __anext__(self) -> KeywordSearchPage:
        fetched = await self._next_page_or_stop()
        if fetched is None:
            raise StopAsyncIteration
        page, offset, length = fetched
        self._items_out += len(page.items)
        self._position = _after(page.page, offset + len(page.items), length)
        return page

    def items(self) -> PagerItems:
        """Iterate over the products of every page, stopping at exactly `max_items`.

        Returns:
            An async iterator of `Product`s.
        """
        return PagerItems(self)

    if not TYPE_CHECKING:  # at run time only: mypy keeps reporting the mistake itself

        def __await__(self) -> NoReturn:
            _misuse("keyword_search_pages() returns a KeywordPager, which is not awaited")

        def __iter__(self) -> NoReturn:
            _misuse("a KeywordPager is iterated with `async for`, not `for`")

    def _stop(self, reason: StopReason) -> None:
        self.stop_reason = reason

    async def _next_page_or_stop(self) -> tuple[KeywordSearchPage, int, int] | None:
        """Fetch the next page, trimmed to what is left to hand out.

        Returns:
            The trimmed page, the offset of its first product in the page as
            served, and how many products the page as served held; or `None`.
        """
        if self.stop_reason is not None:
            return None
        at_max_items = self._max_items is not None and self._items_out >= self._max_items
        # A last page cut short by max_items still holds products: "max_items",
        # so that a caller who stops on "last_page" loses none of them.
        if self._seen_last and not (at_max_items and self._position.offset):
            self._stop("last_page")
            return None
        if at_max_items:
            self._stop("max_items")
            return None
        if self._max_pages is not None and self._pages_fetched >= self._max_pages:
            self._stop("max_pages")
            return None
        page = await self._fetch(self._next_page)
        self._pages_fetched += 1
        ids = tuple(product.num_iid for product in page.items)
        if ids and ids == self._previous_ids:
            self._stop("repeated_page")
            return None
        self._previous_ids = ids
        self._next_page += 1
        self._seen_last = page.is_last
        offset, self._skip = self._skip, 0
        length = len(page.items)
        end = None if self._max_items is None else offset + self._max_items - self._items_out
        if offset or (end is not None and end < length):
            page = attrs.evolve(page, items=page.items[offset:end])
        return page, offset, length


def _after(page: int, handed_out: int, length: int) -> PagePosition:
    """The position after `handed_out` products of a page that held `length`."""
    return PagePosition(page + 1) if handed_out >= length else PagePosition(page, handed_out)


class PagerItems:
    """The products of a `KeywordPager`'s pages, one at a time (from `KeywordPager.items()`)."""

    def __init__(self, pager: KeywordPager) -> None:
        self._pager = pager
        self._page: KeywordSearchPage | None = None
        self._index = 0
        self._offset = 0
        self._length = 0

    def __aiter__(self) -> PagerItems:
        return self

    if not TYPE_CHECKING:  # at run time only: mypy keeps reporting the mistake itself

        def __iter__(self) -> NoReturn:
            _misuse("pager.items() is iterated with `async for`, not `for`")

    async def __anext__(self) -> Product:
        pager = self._pager
        while self._page is None or self._index >= len(self._page.items):
            fetched = await pager._next_page_or_stop()
            if fetched is None:
                raise StopAsyncIteration
            self._page, self._offset, self._length = fetched
            self._index = 0
        product = self._page.items[self._index]
        self._index += 1
        pager._items_out += 1
        pager._position = _after(self._page.page, self._offset + self._index, self._length)
        return product
