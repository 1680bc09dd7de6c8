"""FakeHiobuy's answers through the real SDK: determinism, locales, 1688 options, log, auth."""

from __future__ import annotations

import re
from decimal import Decimal
from functools import partial

import anyio
import pytest

from hiobuy_async import APIError, AuthenticationError, InputError
from hiobuy_async.testing import FakeHiobuy

IMG = FakeHiobuy.sample_images()[0]
OTHER = FakeHiobuy.sample_images()[1]


@pytest.mark.anyio
async def test_same_image_finds_the_same_products_across_fakes_and_calls() -> None:
    first, second = FakeHiobuy(), FakeHiobuy()
    async with first.client() as a, second.client() as b:
        one = await a.image_search(IMG, platform="1688")
        again = await a.image_search(IMG, platform="1688")
        elsewhere = await b.image_search(IMG, platform="1688")
        other = await a.image_search(OTHER, platform="1688")
    assert len(one.items) == 20
    assert one.items == again.items == elsewhere.items
    assert one.raw == elsewhere.raw
    assert {p.num_iid for p in one.items}.isdisjoint({p.num_iid for p in other.items})
    assert one.total_results == 1000
    assert one.api_type == "taobao"


@pytest.mark.anyio
async def test_1688_items_have_the_documented_shapes() -> None:
    async with FakeHiobuy().client() as client:
        result = await client.image_search(IMG, platform="1688")
    for product in result.items:
        assert product.detail_url == f"https://detail.1688.com/offer/{product.num_iid}.html"
        assert product.pic_url is not None
        assert product.pic_url.startswith("https://cbu01.alicdn.com/")
        assert isinstance(product.price, Decimal)
        assert re.fullmatch(r"\d+\.\d\d", result.raw["items"]["item"][0]["price"])
        assert isinstance(product.sales, int)
        assert isinstance(product.quantity, int)
        assert product.tag_percent is not None
        assert re.fullmatch(r"\d{1,3}%", product.tag_percent)
        assert product.trace_info is not None
        assert str(product.num_iid) in product.trace_info


@pytest.mark.anyio
async def test_taobao_items_use_taobao_urls() -> None:
    async with FakeHiobuy().client() as client:
        result = await client.image_search(IMG, platform="taobao")
        on_1688 = await client.image_search(IMG, platform="1688")
    assert result.items
    for product in result.items:
        assert product.detail_url == f"https://item.taobao.com/item.htm?id={product.num_iid}"
        assert product.pic_url is not None
        assert product.pic_url.startswith("https://img.alicdn.com/")
    assert result.items != on_1688.items


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("language", "word"),
    [
        ("en_US", r"[A-Za-z]"),
        ("ru_RU", r"[\u0400-\u04ff]"),
        ("ko_KR", r"[\uac00-\ud7a3]"),
        ("ar", r"[\u0600-\u06ff]"),
    ],
)
async def test_titles_follow_the_language_header(language: str, word: str) -> None:
    async with FakeHiobuy().client() as client:
        local = await client.image_search(IMG, platform="1688", language=language)
        chinese = await client.image_search(IMG, platform="1688")
    assert [p.num_iid for p in local.items] == [p.num_iid for p in chinese.items]
    assert [p.title_cn for p in local.items] == [p.title_cn for p in chinese.items]
    for product, default in zip(local.items, chinese.items, strict=True):
        assert product.title is not None
        assert re.search(word, product.title), product.title
        assert product.title != product.title_cn
        assert default.title == default.title_cn
        assert default.title_cn is not None
        assert re.search(r"[\u4e00-\u9fff]", default.title_cn)


@pytest.mark.anyio
async def test_client_language_is_sent_and_honoured() -> None:
    fake = FakeHiobuy()
    async with fake.client(language="vi_VN") as client:
        result = await client.image_search(IMG, platform="taobao")
    assert fake.requests[0].headers["Language"] == "vi_VN"
    assert all(p.title != p.title_cn for p in result.items)


@pytest.mark.anyio
async def test_use_platform_returns_1688_native_fields() -> None:
    async with FakeHiobuy().client() as client:
        plain = await client.image_search(IMG, platform="1688", language="en_US")
        native = await client.image_search(
            IMG, platform="1688", language="en_US", use_platform=True
        )
    assert [p.num_iid for p in native.items] == [p.num_iid for p in plain.items]
    first = native.items[0]
    # Native items fill the common fields, and keep every native key in extra.
    assert (first.title, first.title_cn) == (plain.items[0].title, plain.items[0].title_cn)
    assert first.price == plain.items[0].price
    assert first.extra["subjectTrans"] == plain.items[0].title
    assert first.extra["subject"] == plain.items[0].title_cn
    assert first.extra["priceInfo"]["price"] == str(plain.items[0].price)
    assert {"imageUrl", "monthSold", "traceInfo", "topCategoryId", "isJxhy"} <= set(first.extra)
    assert "num_iid" not in native.raw["items"]["item"][0]


@pytest.mark.anyio
async def test_filters_keep_a_subset_of_the_unfiltered_results() -> None:
    async with FakeHiobuy().client() as client:
        plain = await client.image_search(IMG, platform="1688")
        filtered = await client.image_search(IMG, platform="1688", filters=["certifiedFactory"])
    ids = [p.num_iid for p in plain.items]
    kept = [p.num_iid for p in filtered.items]
    assert 0 < len(kept) < len(ids)
    assert [i for i in ids if i in kept] == kept


@pytest.mark.anyio
async def test_unfetchable_image_is_an_api_error() -> None:
    async with FakeHiobuy().client() as client:
        with pytest.raises(APIError) as caught:
            await client.image_search("https://example.com/unfetchable.jpg", platform="1688")
    assert caught.value.ret == 0
    assert caught.value.msg == "image cannot be fetched"
    assert caught.value.request_id == "fake-000001"


@pytest.mark.anyio
async def test_unknown_uuid_is_refused_once_without_retries() -> None:
    fake = FakeHiobuy()
    async with fake.client(uuid="someone-else", max_retries=3) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.image_search(IMG, platform="1688")
    assert caught.value.status_code == 401
    assert len(fake.requests) == 1


@pytest.mark.anyio
async def test_several_uuids_can_be_accepted() -> None:
    fake = FakeHiobuy(uuids=("alpha", "beta"))
    async with fake.client() as first, fake.client(uuid="beta") as second:
        await first.image_search(IMG, platform="1688")
        await second.image_search(IMG, platform="1688")
    assert len(fake.requests) == 2


@pytest.mark.anyio
async def test_request_log_records_what_was_sent_and_hides_the_uuid() -> None:
    fake = FakeHiobuy(uuids=("secret-merchant-uuid",))
    async with fake.client(language="en_US") as client:
        result = await client.image_search(IMG, platform="1688", filters=["new7"])
    (recorded,) = fake.requests
    assert recorded.method == "POST"
    assert recorded.path == "/api/client/third-purchase/image/query"
    assert recorded.json == {
        "img": IMG,
        "platform": "1688",
        "use_platform": "0",
        "filter": ["new7"],
    }
    assert recorded.headers["x-uuid"] == "***"
    assert recorded.headers["Language"] == "en_US"
    assert recorded.request_id == result.request_id == "fake-000001"
    assert recorded.fault is None
    assert recorded.endpoint == "image_search"
    assert "secret-merchant-uuid" not in repr(recorded)
    assert "secret-merchant-uuid" not in repr(fake.requests)


@pytest.mark.anyio
async def test_clear_forgets_requests_and_restarts_request_ids() -> None:
    fake = FakeHiobuy()
    async with fake.client() as client:
        await client.image_search(IMG, platform="1688")
        fake.latency = 0.5
        fake.clear()
        assert fake.requests == []
        assert fake.latency == 0.0
        result = await client.image_search(IMG, platform="1688")
    assert result.request_id == "fake-000001"
    assert fake.stats.requests == 1


@pytest.mark.anyio
async def test_clear_during_a_request_keeps_in_flight_counting() -> None:
    fake = FakeHiobuy()
    async with fake.client() as client, anyio.create_task_group() as tg:
        fake.hold()
        tg.start_soon(partial(client.image_search, IMG, platform="1688"))
        with anyio.fail_after(5):
            await fake.wait_for_in_flight(1)
        fake.clear()  # releases the held request, which is still being handled
        assert fake.in_flight == 1
    assert fake.in_flight == 0
    async with fake.client() as client, anyio.create_task_group() as tg:
        fake.hold()
        tg.start_soon(partial(client.image_search, IMG, platform="1688"))
        tg.start_soon(partial(client.image_search, OTHER, platform="1688"))
        with anyio.fail_after(5):
            await fake.wait_for_in_flight(2)
        assert fake.in_flight == 2
        fake.release()
    assert fake.in_flight == 0
    assert fake.max_in_flight == 2


def test_client_refuses_a_second_http_client() -> None:
    with pytest.raises(TypeError):
        FakeHiobuy().client(http_client=object())


def test_fake_needs_an_accepted_uuid() -> None:
    with pytest.raises(ValueError, match="uuid"):
        FakeHiobuy(uuids=())


def test_fake_client_still_validates_input_before_sending() -> None:
    with pytest.raises(InputError):
        FakeHiobuy().client(uuid="")


def test_sample_images_are_distinct_alicdn_https_urls() -> None:
    images = FakeHiobuy.sample_images()
    assert len(images) == 12
    assert len(set(images)) == 12
    assert all(re.match(r"https://(cbu01|img)\.alicdn\.com/", url) for url in images)
    assert FakeHiobuy().sample_images() == images
