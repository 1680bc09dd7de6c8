"""trio: the same client under trio, with nurseries and trio's own timeouts."""

import trio

from hiobuy_async import AsyncHiobuy, Ok
from hiobuy_async.testing import FakeHiobuy  # only for the fake server below


async def lookup(client: AsyncHiobuy, img: str, results: dict[str, int]) -> None:
    with trio.fail_after(10):  # trio cancel scopes bound SDK calls like any other
        result = await client.image_search(img, platform="taobao", language="en_US")
    results[img] = len(result.items)


async def crawl(client: AsyncHiobuy, urls: list[str]) -> None:
    # A handful of calls: a nursery is enough, the client is shared by every task.
    results: dict[str, int] = {}
    async with trio.open_nursery() as nursery:
        for img in urls[:3]:
            nursery.start_soon(lookup, client, img, results)
    print("nursery:", sorted(results.values()))

    # Many calls: search_stream bounds concurrency and pacing for you.
    async with client.search_stream(urls, platform="1688", concurrency=4) as stream:
        async for outcome in stream:
            if isinstance(outcome, Ok):
                print("stream:", outcome.index, outcome.result.items[0].num_iid)


# --- Only for this example: a local fake HioBuy stands in for the real API. ---
async def main() -> None:
    fake = FakeHiobuy()
    async with (
        fake.serve() as base_url,  # the fake serves under trio too
        AsyncHiobuy(FakeHiobuy.DEFAULT_UUID, base_url=base_url) as client,
    ):
        await crawl(client, fake.sample_images()[:5])


if __name__ == "__main__":
    trio.run(main)
