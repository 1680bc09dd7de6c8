"""Bulk searches: `search_many` returns one outcome per input, in input order."""

import anyio

from hiobuy_async import AsyncHiobuy, Failed, ImageQuery, Ok, Progress
from hiobuy_async.testing import FakeHiobuy  # only for the fake server below


def show_progress(snapshot: Progress) -> None:
    if snapshot.done == snapshot.total:
        print(f"done: {snapshot.ok} ok, {snapshot.failed} failed, {snapshot.retries} retries")


async def crawl(client: AsyncHiobuy, urls: list[str]) -> None:
    images: list[str | ImageQuery] = [
        *urls,
        urls[0],  # a duplicate: sent once, both inputs get the same result
        ImageQuery(urls[1], platform="taobao", language="en_US"),  # overrides the defaults
        "https://img.example.com/unfetchable.jpg",  # the API answers ret != 1
        "not a url",  # invalid: a Failed with an InputError, never sent
    ]
    outcomes = await client.search_many(
        images,
        platform="1688",
        language="en_US",
        concurrency=8,  # requests in flight at once (<= the client's max_connections)
        rate_limit=20,  # requests started per second, evenly spaced
        progress=show_progress,
    )
    for outcome in outcomes:
        if isinstance(outcome, Ok):
            top = outcome.result.items[0]
            print(outcome.index, "ok", outcome.query.platform, top.num_iid, top.price)
        elif isinstance(outcome, Failed):
            print(outcome.index, "failed", type(outcome.error).__name__, outcome.error.message)


# --- Only for this example: a local fake HioBuy stands in for the real API. ---
async def main() -> None:
    fake = FakeHiobuy()
    async with (
        fake.serve() as base_url,
        AsyncHiobuy(FakeHiobuy.DEFAULT_UUID, base_url=base_url) as client,
    ):
        await crawl(client, fake.sample_images()[:4])


if __name__ == "__main__":
    anyio.run(main)
