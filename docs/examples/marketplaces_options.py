"""Marketplaces and locales: Taobao, 1688-only options, and what is refused up front."""

from typing import Any

import anyio

from hiobuy_async import AsyncHiobuy, InputError, Marketplace
from hiobuy_async.testing import FakeHiobuy  # only for the fake server below

IMG = "https://cbu01.alicdn.com/img/ibank/O1CN01example.jpg"


async def searches(client: AsyncHiobuy) -> None:
    # Taobao: a platform and, optionally, one of its three locales.
    taobao = await client.image_search(IMG, platform=Marketplace.TAOBAO, language="vi_VN")
    print("taobao:", taobao.items[0].title)

    # 1688: more locales, plus two options that exist on 1688 only.
    wholesale = await client.image_search(
        IMG,
        platform="1688",
        language="ja",
        filters=["certifiedFactory", "shipIn48Hours"],
    )
    print("1688 with filters:", len(wholesale.items), "products")

    native = await client.image_search(IMG, platform="1688", use_platform=True)
    first = native.items[0]
    print("1688 native fields:", first.num_iid, sorted(first.extra)[:3])

    # Invalid combinations fail with InputError before any request is sent.
    bad_calls: list[dict[str, Any]] = [
        {"platform": "taobao", "language": "ja"},  # ja is a 1688 locale
        {"platform": "taobao", "filters": ["certifiedFactory"]},  # filters: 1688 only
        {"platform": "taobao", "use_platform": True},  # use_platform: 1688 only
        {"platform": "amazon"},  # not a HioBuy marketplace
    ]
    for kwargs in bad_calls:
        try:
            await client.image_search(IMG, **kwargs)
        except InputError as error:
            print("refused:", error)
    try:
        await client.image_search("file:///tmp/shoe.jpg", platform="1688")
    except InputError as error:
        print("refused:", error)


# --- Only for this example: a local fake HioBuy stands in for the real API. ---
async def main() -> None:
    fake = FakeHiobuy()
    async with (
        fake.serve() as base_url,
        AsyncHiobuy(FakeHiobuy.DEFAULT_UUID, base_url=base_url) as client,
    ):
        await searches(client)
    print("requests sent:", len(fake.requests))  # the refused calls sent nothing


if __name__ == "__main__":
    anyio.run(main)
