"""details_many / details_stream: the batch engine fanning out product details."""

from __future__ import annotations

import re
import textwrap
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio.lowlevel
import pytest

from hiobuy_async import (
    APIError,
    AsyncHiobuy,
    DetailsQuery,
    Failed,
    HiobuyError,
    InputError,
    Marketplace,
    Ok,
    Product,
    ResponseValidationError,
    ServerError,
)
from hiobuy_async._endpoints.product_details import ProductRef
from hiobuy_async.testing import FakeHiobuy, Fault

pytestmark = pytest.mark.anyio

LoopbackClient = Callable[..., AsyncHiobuy]  # the conftest's loopback_client fixture

FIRST_ID = 600_000_000_000  # the fake's catalog holds ids from here


def known(n: int) -> int:
    return FIRST_ID + 7919 * n


def url_1688(product_id: int) -> str:
    return f"https://detail.1688.com/offer/{product_id}.html"


def sent_keywords(fake: FakeHiobuy) -> Counter[tuple[str, str]]:
    return Counter(
        (str(r.json["platform"]), str(r.json["keyword"]))
        for r in fake.requests
        if r.endpoint == "product_details" and isinstance(r.json, dict)
    )


async def test_two_thousand_ids_over_loopback(
    served: tuple[FakeHiobuy, str], loopback_client: LoopbackClient
) -> None:
    fake, base_url = served
    inputs: list[ProductRef | DetailsQuery] = []
    expected: list[str] = []  # per input: "ok", "unknown", "down", "malformed"
    asked_once: set[str] = set()  # the ids no attempt of which is retried
    for n in range(1700):
        product_id = known(n)
        if n % 100 == 7:
            product_id = FakeHiobuy.unknown_product_id(n)
            kind = "unknown"
        elif n % 100 == 11:
            fake.fail_matching(
                endpoint="product_details", subject=str(product_id), fault=Fault.status(503)
            )
            kind = "down"
        elif n % 100 == 13:
            fake.fail_matching(
                endpoint="product_details", subject=str(product_id), fault=Fault.malformed()
            )
            kind = "malformed"
        else:
            kind = "ok"
        if n % 100 == 17:  # a transient failure: the retry succeeds
            fake.fail_matching(
                endpoint="product_details", subject=str(product_id), fault=Fault.reset(), times=1
            )
        elif kind != "down":
            asked_once.add(str(product_id))
        inputs.append(product_id)
        expected.append(kind)
    # Duplicates of the first 60 products in every form (and one as a DetailsQuery).
    for n in range(60):
        first = inputs[n]
        assert isinstance(first, int)
        product_id = first
        kind = expected[n]
        forms: list[ProductRef | DetailsQuery] = [
            str(product_id),
            url_1688(product_id),
            Product(num_iid=product_id, detail_url=url_1688(product_id)),
            f" {product_id} ",
            DetailsQuery(str(product_id), Marketplace.ALIBABA_1688, "zh_CN"),
        ]
        inputs.extend(forms)
        expected.extend([kind] * len(forms))
    assert len(inputs) == 2000

    async with loopback_client(base_url, timeout=2.0, max_connections=32) as client:
        outcomes = await client.details_many(inputs, platform="1688", concurrency=32)

        assert len(outcomes) == len(inputs)
        assert [o.index for o in outcomes] == list(range(len(inputs)))
        for outcome, kind in zip(outcomes, expected, strict=True):
            if kind == "ok":
                assert isinstance(outcome, Ok), outcome
                assert outcome.query.marketplace is Marketplace.ALIBABA_1688
                assert outcome.result.num_iid == outcome.query.product_id
            else:
                assert isinstance(outcome, Failed)
                error_type = {
                    "unknown": APIError,
                    "down": ServerError,
                    "malformed": ResponseValidationError,
                }[kind]
                assert isinstance(outcome.error, error_type), outcome
                assert outcome.error.endpoint == "product_details"
        sent = sent_keywords(fake)
        # Every product but the retried ones was asked for exactly once,
        # duplicates included (the first 60 come six times each).
        assert len(asked_once) > 1500
        assert all(sent["1688", keyword] == 1 for keyword in asked_once)
        assert len(sent) == 1700
        assert fake.max_in_flight <= 32

        fake.clear()
        healthy = await client.details_many(
            [known(5000 + n) for n in range(100)], platform="1688", concurrency=32
        )
        assert all(isinstance(o, Ok) for o in healthy)
        assert len(sent_keywords(fake)) == 100


async def test_details_stream_yields_in_completion_order_with_indexes() -> None:
    fake = FakeHiobuy()
    ids = [known(n) for n in range(12)]
    # The first product's first answer is slow: it times out and is retried,
    # so the others complete before it.
    fake.fail_matching(
        endpoint="product_details", subject=str(ids[0]), fault=Fault.stall(5.0), times=1
    )
    async with (
        fake.client(timeout=0.2) as client,
        client.details_stream(ids, platform="taobao", concurrency=4) as stream,
    ):
        outcomes = [outcome async for outcome in stream]
    assert sorted(o.index for o in outcomes) == list(range(12))
    assert outcomes[-1].index == 0  # completion order, not input order
    for outcome in outcomes:
        assert isinstance(outcome, Ok)
        assert outcome.query == DetailsQuery(str(ids[outcome.index]), Marketplace.TAOBAO, "zh_CN")
        assert outcome.result.num_iid == ids[outcome.index]


async def test_details_stream_sends_duplicates_in_flight_once() -> None:
    fake = FakeHiobuy()
    product_id = known(3)
    forms: list[ProductRef] = [
        product_id,
        str(product_id),
        f"https://item.taobao.com/item.htm?id={product_id}",
        Product(
            num_iid=product_id, detail_url=f"https://detail.tmall.com/item.htm?id={product_id}"
        ),
    ] * 5
    async with (
        fake.client() as client,
        client.details_stream(forms, platform="taobao", concurrency=4) as stream,
    ):
        outcomes = [outcome async for outcome in stream]
    assert sorted(o.index for o in outcomes) == list(range(len(forms)))
    assert all(isinstance(o, Ok) for o in outcomes)
    assert sent_keywords(fake) == Counter({("taobao", str(product_id)): 1})


async def test_bad_items_become_input_errors_without_a_request() -> None:
    fake = FakeHiobuy()
    bad: list[Any] = [
        0,
        -5,
        True,
        "12a",
        "ftp://detail.1688.com/offer/1.html",
        "https://item.taobao.com/item.htm",  # no id
        "https://example.com/product/1",  # an unknown host needs a platform
        None,
        3.5,
        Product(num_iid=0),
    ]
    good = known(1)
    async with fake.client() as client:
        outcomes = await client.details_many([*bad, good])
    assert len(outcomes) == len(bad) + 1
    for outcome, item in zip(outcomes, bad, strict=False):
        assert isinstance(outcome, Failed)
        assert isinstance(outcome.error, InputError)
        assert outcome.query is item  # the input as given
    last = outcomes[-1]
    # No platform: a bare id cannot be sent either.
    assert isinstance(last, Failed)
    assert isinstance(last.error, InputError)
    assert fake.requests == []


async def test_a_known_product_url_names_its_own_marketplace() -> None:
    fake = FakeHiobuy()
    product_id = known(2)
    items: list[ProductRef | DetailsQuery] = [
        product_id,  # takes the batch's platform
        f"https://item.taobao.com/item.htm?id={product_id}",  # names Taobao
        DetailsQuery(str(product_id), Marketplace.TAOBAO, "en_US"),
    ]
    async with fake.client() as client:
        outcomes = await client.details_many(items, platform="1688", language="en_US")
    assert [type(o) for o in outcomes] == [Ok, Ok, Ok]
    assert [o.query for o in outcomes] == [
        DetailsQuery(str(product_id), Marketplace.ALIBABA_1688, "en_US"),
        DetailsQuery(str(product_id), Marketplace.TAOBAO, "en_US"),
        DetailsQuery(str(product_id), Marketplace.TAOBAO, "en_US"),
    ]
    assert sent_keywords(fake) == Counter(
        {("1688", str(product_id)): 1, ("taobao", str(product_id)): 1}
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"platform": "ebay"}, "platform"),
        ({"platform": "taobao", "language": "ko_KR"}, "ko_KR"),
        ({"platform": "taobao", "use_platform": True}, "1688 only"),
        ({"concurrency": 64}, "max_connections"),
        ({"on_error": "ignore"}, "on_error"),
    ],
)
async def test_bad_details_batch_arguments_fail_before_any_request(
    kwargs: dict[str, Any], match: str
) -> None:
    fake = FakeHiobuy()
    async with fake.client() as client:
        with pytest.raises(InputError, match=match):
            await client.details_many([known(1)], **kwargs)
        with pytest.raises(InputError, match=match):  # noqa: PT012 - raised on entry
            async with client.details_stream([known(1)], **kwargs) as stream:
                async for _ in stream:
                    pass
        with pytest.raises(InputError, match="single string"):
            await client.details_many(str(known(1)), platform="1688")
    assert fake.requests == []


async def test_details_on_error_raise_stops_the_batch() -> None:
    fake = FakeHiobuy()
    items = [FakeHiobuy.unknown_product_id(0), *(known(n) for n in range(200))]
    async with fake.client() as client:
        with pytest.raises(APIError) as info:
            await client.details_many(items, platform="1688", concurrency=2, on_error="raise")
    assert isinstance(info.value, HiobuyError)
    assert len(fake.requests) < len(items)


async def test_details_progress_and_async_input() -> None:
    fake = FakeHiobuy()
    seen: list[int] = []

    async def ids() -> Any:
        for n in range(10):
            await anyio.lowlevel.checkpoint()
            yield known(n)

    async with fake.client() as client:
        outcomes = await client.details_many(
            ids(), platform="1688", progress=lambda p: seen.append(p.done)
        )
    assert [o.index for o in outcomes] == list(range(10))
    assert sorted(seen) == list(range(1, 11))


def details_fragment() -> str:
    page = (Path(__file__).resolve().parent.parent / "docs" / "bulk.md").read_text()
    (block,) = [
        code
        for code in re.findall(r"```python[^\n]*\n(.*?)```", page, flags=re.DOTALL)
        if "details_stream(" in code
    ]
    return str(block)


async def test_the_bulk_page_details_fragment_runs(capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, Any] = {"Ok": Ok}
    # The page's own fragment, run as written inside a function taking its names.
    source = "async def example(client, hits):\n" + textwrap.indent(details_fragment(), "    ")
    exec(source, namespace)
    fake = FakeHiobuy()
    hits = [known(1), FakeHiobuy.unknown_product_id(0), url_1688(known(2))]
    async with fake.client() as client:
        await namespace["example"](client, hits)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert sum("failed: " in line for line in lines) == 1
