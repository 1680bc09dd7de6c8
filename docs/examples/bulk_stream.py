"""Bulk searches: `search_stream` over an endless input, results written as they complete."""

import json
import tempfile
from collections.abc import AsyncIterator

import anyio

from hiobuy_async import AsyncHiobuy, Ok
from hiobuy_async.testing import FakeHiobuy  # only for the fake server below


async def image_urls(path: anyio.Path) -> AsyncIterator[str]:
    """Read URLs lazily: the batch pulls the next one only when a worker is free."""
    async with await anyio.open_file(path) as lines:
        async for line in lines:
            if url := line.strip():
                yield url


async def crawl(client: AsyncHiobuy, source: anyio.Path, output: anyio.Path) -> None:
    async with (
        await anyio.open_file(output, "w") as out,
        client.search_stream(
            image_urls(source), platform="1688", concurrency=16, rate_limit=50
        ) as stream,
    ):
        async for outcome in stream:  # in completion order; .index is the input position
            record = {"index": outcome.index, "img": outcome.query.img}
            if isinstance(outcome, Ok):
                record["num_iids"] = [p.num_iid for p in outcome.result.items[:5]]
            else:
                record["error"] = str(outcome.error)
            await out.write(json.dumps(record) + "\n")
        print(f"{stream.progress.done} done, {stream.progress.failed} failed")


# --- Only for this example: a local fake HioBuy stands in for the real API. ---
async def main() -> None:
    fake = FakeHiobuy()
    with tempfile.TemporaryDirectory() as tmp:
        source, output = anyio.Path(tmp, "urls.txt"), anyio.Path(tmp, "results.jsonl")
        await source.write_text("\n".join(fake.sample_images()) + "\n")
        async with (
            fake.serve() as base_url,
            AsyncHiobuy(FakeHiobuy.DEFAULT_UUID, base_url=base_url, max_connections=16) as client,
        ):
            await crawl(client, source, output)
        lines = (await output.read_text()).splitlines()
    print(len(lines), "lines written; first index:", json.loads(lines[0])["index"])


if __name__ == "__main__":
    anyio.run(main)
