"""Timeouts: `timeout` bounds one attempt, `deadline` bounds the whole call."""

import anyio

from hiobuy_async import APITimeoutError, AsyncHiobuy
from hiobuy_async.testing import FakeHiobuy, Fault  # only for the fake server below

IMG = "https://cbu01.alicdn.com/img/ibank/O1CN01example.jpg"


async def searches(uuid: str, base_url: str) -> None:
    async with AsyncHiobuy(
        uuid,
        base_url=base_url,
        timeout=10.0,  # each attempt: connect, write, read (connect capped at 10 s)
        deadline=0.5,  # the whole call: every attempt and every wait in between
    ) as client:
        try:
            await client.image_search(IMG, platform="1688")
        except APITimeoutError as error:
            print("deadline:", error.message)

        # Your own cancel scopes work too, on asyncio and trio alike: the call
        # is cancelled cleanly and the client stays usable.
        with anyio.move_on_after(0.1) as scope:
            await client.image_search(IMG, platform="1688")
        print("cancelled by move_on_after:", scope.cancelled_caught)

        result = await client.image_search(IMG, platform="1688")
        print("next call:", len(result.items), "products")


# --- Only for this example: a local fake HioBuy whose first two answers hang. ---
async def main() -> None:
    fake = FakeHiobuy()
    fake.fail_next(2, Fault.stall(30))
    async with fake.serve() as base_url:
        await searches(FakeHiobuy.DEFAULT_UUID, base_url)


if __name__ == "__main__":
    anyio.run(main)
