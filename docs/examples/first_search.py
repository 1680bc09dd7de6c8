"""Getting started: search one image on 1688 and print what was found."""

import anyio

from hiobuy_async import AsyncHiobuy
from hiobuy_async.testing import FakeHiobuy  # only for the fake server below

IMG = "https://cbu01.alicdn.com/img/ibank/O1CN01example.jpg"


async def first_search(uuid: str, base_url: str) -> None:
    # In your code: `AsyncHiobuy()` reads HIOBUY_UUID and HIOBUY_BASE_URL.
    async with AsyncHiobuy(uuid, base_url=base_url) as client:
        result = await client.image_search(IMG, platform="1688", language="en_US")

    print(f"{len(result.items)} products, request id {result.request_id}")
    for product in result.items[:3]:
        print(product.num_iid, product.price, product.title)
        print("   ", product.detail_url)


# --- Only for this example: a local fake HioBuy stands in for the real API. ---
async def main() -> None:
    fake = FakeHiobuy()
    async with fake.serve() as base_url:  # http://127.0.0.1:<port>
        await first_search(FakeHiobuy.DEFAULT_UUID, base_url)


if __name__ == "__main__":
    anyio.run(main)
