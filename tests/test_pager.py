"""KeywordPager: stop rules, resume positions, and no request past what is asked."""

from __future__ import annotations

import anyio
import pytest

from hiobuy_async import ClientStateError, InputError
from hiobuy_async._models import KeywordSearchPage, Product
from hiobuy_async._pager import KeywordPager, PagePosition

pytestmark = pytest.mark.anyio


class Catalog:
    """Pages of `total` consecutive ids, recording which pages were fetched."""

    def __init__(self, total: int, *, page_size: int = 40, report_total: bool = True) -> None:
        self.total = total
        self.page_size = page_size
        self.report_total = report_total
        self.fetched: list[int] = []

    async def fetch(self, page: int) -> KeywordSearchPage:
        self.fetched.append(page)
        first = (page - 1) * self.page_size + 1
        ids = range(first, min(page * self.page_size, self.total) + 1)
        return KeywordSearchPage(
            items=tuple(Product(num_iid=i) for i in ids),
            page=page,
            page_size=self.page_size,
            total_results=self.total if self.report_total else None,
        )


async def test_pages_stop_on_the_short_last_page_without_a_wasted_request() -> None:
    catalog = Catalog(1234)
    pager = KeywordPager(catalog.fetch)

    pages = [page async for page in pager]

    assert catalog.fetched == list(range(1, 32))
    assert [len(p.items) for p in pages][-2:] == [40, 34]
    assert sum(len(p.items) for p in pages) == 1234
    assert pager.stop_reason == "last_page"


async def test_a_full_last_page_stops_on_total_results() -> None:
    catalog = Catalog(1200)
    pager = KeywordPager(catalog.fetch)

    assert sum([len(p.items) async for p in pager]) == 1200
    assert catalog.fetched == list(range(1, 31))  # page 31 would be empty: not asked for
    assert pager.stop_reason == "last_page"


async def test_without_total_results_an_empty_page_ends_it() -> None:
    catalog = Catalog(80, report_total=False)
    pager = KeywordPager(catalog.fetch)

    assert sum([len(p.items) async for p in pager]) == 80
    assert catalog.fetched == [1, 2, 3]
    assert pager.stop_reason == "last_page"


async def test_max_items_stops_exactly_and_resume_continues_with_the_next_product() -> None:
    catalog = Catalog(1234)
    first = KeywordPager(catalog.fetch, max_items=100)

    ids = [product.num_iid async for product in first.items()]

    assert ids == list(range(1, 101))
    assert catalog.fetched == [1, 2, 3]
    assert first.stop_reason == "max_items"
    assert first.resume_from == PagePosition(3, 20)

    catalog.fetched.clear()
    second = KeywordPager(catalog.fetch, start=first.resume_from)
    rest = [product.num_iid async for product in second.items()]

    assert rest == list(range(101, 1235))
    assert catalog.fetched == list(range(3, 32))


async def test_resume_position_after_a_break_mid_page() -> None:
    catalog = Catalog(100)
    pager = KeywordPager(catalog.fetch)
    seen = []
    async for product in pager.items():
        seen.append(product.num_iid)
        if len(seen) == 45:
            break

    assert pager.resume_from == PagePosition(2, 5)
    assert pager.stop_reason is None
    assert catalog.fetched == [1, 2]  # nothing fetched after the break
    again = KeywordPager(catalog.fetch, start=pager.resume_from)
    assert [p.num_iid async for p in again.items()] == list(range(46, 101))


async def test_resume_at_a_page_boundary_starts_on_the_next_page() -> None:
    catalog = Catalog(200)
    pager = KeywordPager(catalog.fetch, max_items=80)

    assert len([p async for p in pager.items()]) == 80
    assert pager.resume_from == PagePosition(3, 0)
    assert catalog.fetched == [1, 2]


async def test_pages_are_trimmed_to_max_items_and_start_offset() -> None:
    catalog = Catalog(1234)
    pager = KeywordPager(catalog.fetch, start=PagePosition(2, 10), max_items=50)

    pages = [page async for page in pager]

    assert [(p.page, p.items[0].num_iid, len(p.items)) for p in pages] == [(2, 51, 30), (3, 81, 20)]
    assert pager.resume_from == PagePosition(3, 20)
    assert pager.stop_reason == "max_items"


async def test_max_pages() -> None:
    catalog = Catalog(1234)
    pager = KeywordPager(catalog.fetch, max_pages=2)

    assert len([p async for p in pager]) == 2
    assert catalog.fetched == [1, 2]
    assert pager.stop_reason == "max_pages"
    assert pager.resume_from == PagePosition(3, 0)


async def test_an_api_that_ignores_page_stops_with_repeated_page() -> None:
    catalog = Catalog(1234)
    fetched: list[int] = []

    async def always_first(page: int) -> KeywordSearchPage:
        fetched.append(page)
        return await catalog.fetch(1)

    pager = KeywordPager(always_first)

    pages = [page async for page in pager]

    assert len(pages) == 1
    assert fetched == [1, 2]
    assert pager.stop_reason == "repeated_page"


async def test_iteration_after_the_end_stays_ended() -> None:
    catalog = Catalog(10)
    pager = KeywordPager(catalog.fetch)
    assert len([p async for p in pager]) == 1
    assert [p async for p in pager] == []
    assert catalog.fetched == [1]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"start": 0},
        {"start": True},
        {"start": "2"},
        {"start": PagePosition(1, -1)},
        {"max_pages": 0},
        {"max_items": 0},
        {"max_items": True},
    ],
)
def test_bad_arguments_are_input_errors(kwargs: dict[str, object]) -> None:
    async def never(page: int) -> KeywordSearchPage:  # pragma: no cover - never called
        raise AssertionError

    with pytest.raises(InputError):
        KeywordPager(never, **kwargs)  # type: ignore[arg-type]


# --- issue #18, points 1 to 3 and 23 ------------------------------------------------------


def page_of(
    ids: range | list[int], page: int, page_size: int, total: int | None
) -> KeywordSearchPage:
    return KeywordSearchPage(
        items=tuple(Product(num_iid=i) for i in ids),
        page=page,
        page_size=page_size,
        total_results=total,
    )


@pytest.mark.parametrize("shape", ["rotated", "alternating"])
async def test_pager_stops_on_rotated_pages(shape: str) -> None:
    fetched: list[int] = []
    first, second = list(range(1, 21)), list(range(21, 41))

    async def reordering(page: int) -> KeywordSearchPage:
        fetched.append(page)
        if len(fetched) > 50:  # pragma: no cover - the bug: it would never stop
            raise AssertionError("the pager loops")
        if shape == "rotated":  # the same 20 products, in another order on every page
            ids = first[page % 20 :] + first[: page % 20]
        else:  # two pages, alternately, whatever page is asked
            ids = first if page % 2 else second
        return page_of(ids, page, 20, 1000)

    pager = KeywordPager(reordering)
    ids = [product.num_iid async for product in pager.items()]

    assert pager.stop_reason == "repeated_page"
    expected = first if shape == "rotated" else first + second
    assert sorted(ids) == expected
    assert len(fetched) == len(expected) // 20 + 1


async def test_a_page_with_some_new_products_is_handed_out() -> None:
    async def shifting(page: int) -> KeywordSearchPage:
        start = (page - 1) * 10 + 1  # pages overlap by half: each brings 10 new products
        return page_of(range(start, start + 20), page, 20, None)

    pager = KeywordPager(shifting, max_pages=5)
    ids = [product.num_iid async for product in pager.items()]

    assert pager.stop_reason == "max_pages"
    assert len(ids) == 100  # handed out as served, overlaps included
    assert set(ids) == set(range(1, 61))


class CappedCatalog(Catalog):
    """An upstream serving at most `cap` products per page whatever page_size asks."""

    def __init__(self, total: int, *, cap: int, asked: int) -> None:
        super().__init__(total, page_size=cap)
        self.asked = asked

    async def fetch(self, page: int) -> KeywordSearchPage:
        served = await super().fetch(page)
        return page_of([p.num_iid for p in served.items], page, self.asked, self.total)


async def test_a_short_page_does_not_end_the_search_when_total_results_says_more_remain() -> None:
    catalog = CappedCatalog(95, cap=20, asked=50)
    pager = KeywordPager(catalog.fetch, page_size=50)

    ids = [product.num_iid async for product in pager.items()]

    assert ids == list(range(1, 96))
    assert pager.stop_reason == "last_page"
    assert catalog.fetched == [1, 2, 3, 4, 5]
    assert pager.resume_from == PagePosition(6)


async def test_the_resume_position_counts_in_the_page_size_served() -> None:
    catalog = CappedCatalog(95, cap=20, asked=50)
    pager = KeywordPager(catalog.fetch, page_size=50, max_items=30)
    head = [product.num_iid async for product in pager.items()]
    assert pager.resume_from == PagePosition(2, 10)  # 10 of page 2's 20, not of 50

    rest = KeywordPager(catalog.fetch, page_size=50, start=pager.resume_from)
    tail = [product.num_iid async for product in rest.items()]

    assert head + tail == list(range(1, 96))
    assert rest.stop_reason == "last_page"


class HeldCatalog(Catalog):
    """A catalog whose fetches wait for `release` once `held` is set."""

    def __init__(self, total: int) -> None:
        super().__init__(total, page_size=20)
        self.held = False
        self.waiting = anyio.Event()
        self.release = anyio.Event()

    async def fetch(self, page: int) -> KeywordSearchPage:
        if self.held:
            self.waiting.set()
            await self.release.wait()
        return await super().fetch(page)


async def test_two_tasks_reading_one_pager_raise_instead_of_losing_products() -> None:
    catalog = HeldCatalog(100)
    pager = KeywordPager(catalog.fetch)
    first_task: list[int] = []
    catalog.held = True

    async def read_all() -> None:
        async for product in pager.items():
            first_task.append(product.num_iid)

    async with anyio.create_task_group() as tg:
        tg.start_soon(read_all)
        await catalog.waiting.wait()
        with pytest.raises(ClientStateError, match="another task"):
            await pager.items().__anext__()
        with pytest.raises(ClientStateError):
            await pager.__anext__()
        catalog.held = False
        catalog.release.set()

    assert first_task == list(range(1, 101))  # the first reader lost nothing
    assert catalog.fetched == [1, 2, 3, 4, 5]
    assert pager.stop_reason == "last_page"


async def test_a_new_items_continues_from_resume_from() -> None:
    catalog = Catalog(100, page_size=20)
    pager = KeywordPager(catalog.fetch)
    head = []
    async for product in pager.items():
        head.append(product.num_iid)
        if len(head) == 21:
            break
    assert pager.resume_from == PagePosition(2, 1)

    middle = [p.num_iid for p in (await pager.__anext__()).items]  # the rest of page 2
    tail = [product.num_iid async for product in pager.items()]

    assert middle == list(range(22, 41))
    assert head + middle + tail == list(range(1, 101))
    assert pager.stop_reason == "last_page"
    assert catalog.fetched == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    "start",
    [
        10**12,
        PagePosition(10**12),
        PagePosition(1_000_001),
        PagePosition(2, 20),
        PagePosition(2, 21),
    ],
)
def test_start_is_checked_like_page(start: int | PagePosition) -> None:
    async def never(page: int) -> KeywordSearchPage:  # pragma: no cover - never called
        raise AssertionError

    with pytest.raises(InputError, match="start"):
        KeywordPager(never, start=start, page_size=20)
    KeywordPager(never, start=PagePosition(1_000_000, 19), page_size=20)
