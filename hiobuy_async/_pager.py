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

from ._endpoints.keyword_search import MAX_PAGE
from ._exceptions import ClientStateError, InputError
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


def _check_start(start: int | PagePosition, page_size: int | None) -> PagePosition:
    if isinstance(start, PagePosition):
        check_int("start.page", start.page, minimum=1, maximum=MAX_PAGE)
        check_int("start.offset", start.offset, minimum=0)
        if page_size is not None and start.offset >= page_size:
            # A position a pager gives never says a whole page was handed out
            # (that is the next page, offset 0): this one would skip products.
            raise InputError(
                f"start.offset must be below page_size ({page_size}), got {start.offset}"
            )
        return start
    if isinstance(start, bool) or not isinstance(start, int):
        raise InputError(f"start must be a page number or a PagePosition, got {start!r}")
    return PagePosition(check_int("start", start, minimum=1, maximum=MAX_PAGE))


class KeywordPager:
    """The pages of one keyword search, in order.

    `async for page in pager` yields `KeywordSearchPage`s; `async for product
    in pager.items()` yields their products. Each page is fetched only when
    the caller asks for more, and none is fetched once the results are known
    to be exhausted: after a page whose `is_last` is set (empty, or short
    with no count saying more remain), once `page * page_size` reaches
    `total_results`, at `max_pages`, at `max_items`, or when a page brings no
    product not already handed out by this pager (an API ignoring `page`, or
    rotating the same products).

    A page yielded holds only the products not handed out before: the first
    one skips `start.offset` products and the last stops at `max_items`.
    Iterating pages and products can be mixed, and a new `items()` continues
    with the next product (never skipping the rest of a page). One pager is
    read by one task at a time: a second task asking for more while the first
    one waits for a page raises `ClientStateError` (as an async generator
    raises `RuntimeError`), and the first task's iteration is unaffected.

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
        page_size: int | None = None,
    ) -> None:
        position = _check_start(start, page_size)
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
        # Every product id handed out in this run: a page bringing none that
        # is not in here ends the run ("repeated_page").
        self._handed_out: set[int] = set()
        self._seen_last = False
        # The page being handed out, as served, and its next product's index.
        self._current: KeywordSearchPage | None = None
        self._index = 0
        self._served = 0  # how many products the previous page held
        self._busy = False
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
        page = await self._ready()
        if page is None:
            raise StopAsyncIteration
        start = self._index
        end = len(page.items)
        if self._max_items is not None:
            end = min(end, start + self._max_items - self._items_out)
        products = page.items[start:end]
        for product in products:
            self._handed_out.add(product.num_iid)
        self._hand_out(page, end)
        if start or end < len(page.items):
            page = attrs.evolve(page, items=products)
        return page

    def items(self) -> PagerItems:
        """Iterate over the products of every page, stopping at exactly `max_items`.

        A new `items()` (or a page iteration) continues with the product after
        the last one handed out by this pager.

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

    def _hand_out(self, page: KeywordSearchPage, end: int) -> None:
        """Record that the products of `page` up to index `end` were handed out."""
        self._items_out += end - self._index
        self._index = end
        self._position = _after(page.page, end, len(page.items))

    async def _ready(self) -> KeywordSearchPage | None:
        """The page as served with a product left to hand out, fetching it if needed.

        Returns:
            The page (its products from `self._index` are still to hand out),
            or `None` once iteration has ended (`stop_reason` set).

        Raises:
            ClientStateError: Another task is waiting for a page of this pager.
        """
        if self._busy:
            raise ClientStateError(
                "this KeywordPager is already being iterated by another task; "
                "read one pager from one task at a time"
            )
        self._busy = True
        try:
            return await self._ready_alone()
        finally:
            self._busy = False

    async def _ready_alone(self) -> KeywordSearchPage | None:
        while self.stop_reason is None:
            page = self._current
            at_max_items = self._max_items is not None and self._items_out >= self._max_items
            if page is not None and self._index < len(page.items):
                if at_max_items:
                    # A last page cut short by max_items still holds products:
                    # "max_items", so that a caller who stops on "last_page"
                    # loses none of them.
                    self._stop("max_items")
                    return None
                return page
            if self._seen_last:
                self._stop("last_page")
            elif at_max_items:
                self._stop("max_items")
            elif self._max_pages is not None and self._pages_fetched >= self._max_pages:
                self._stop("max_pages")
            else:
                await self._fetch_next()
        return None

    async def _fetch_next(self) -> None:
        page = await self._fetch(self._next_page)
        self._pages_fetched += 1
        skip, self._skip = self._skip, 0
        fresh = page.items[skip:]
        if fresh and all(product.num_iid in self._handed_out for product in fresh):
            self._stop("repeated_page")
            return
        self._next_page += 1
        served, total = len(page.items) + page.dropped_items, page.total_results
        if (
            not page.is_last
            and total is not None
            and 0 < served < self._served
            and (page.page - 1) * self._served + served >= total
        ):
            # Shorter than the pages before it (served short, as an upstream
            # capping page_size does), and at that size the end of the results.
            page = attrs.evolve(page, is_last=True)
        self._served = served
        self._seen_last = page.is_last
        self._current = page
        self._index = min(skip, len(page.items))
        # The products skipped by `start.offset` were handed out before.
        self._position = _after(page.page, self._index, len(page.items))


def _after(page: int, handed_out: int, length: int) -> PagePosition:
    """The position after `handed_out` products of a page that held `length`."""
    return PagePosition(page + 1) if handed_out >= length else PagePosition(page, handed_out)


class PagerItems:
    """The products of a `KeywordPager`'s pages, one at a time (from `KeywordPager.items()`)."""

    def __init__(self, pager: KeywordPager) -> None:
        self._pager = pager

    def __aiter__(self) -> PagerItems:
        return self

    if not TYPE_CHECKING:  # at run time only: mypy keeps reporting the mistake itself

        def __iter__(self) -> NoReturn:
            _misuse("pager.items() is iterated with `async for`, not `for`")

    async def __anext__(self) -> Product:
        pager = self._pager
        page = await pager._ready()
        if page is None:
            raise StopAsyncIteration
        product = page.items[pager._index]
        pager._handed_out.add(product.num_iid)
        pager._hand_out(page, pager._index + 1)
        return product
