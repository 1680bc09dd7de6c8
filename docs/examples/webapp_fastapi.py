"""Web apps: one AsyncHiobuy per app, opened and closed by the app's lifespan.

Run it with `uvicorn webapp_fastapi:app` (HIOBUY_UUID set in the environment).
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import anyio
import httpx
from fastapi import Depends, FastAPI, HTTPException, Request

from hiobuy_async import APIError, AsyncHiobuy, HiobuyError, InputError
from hiobuy_async.testing import FakeHiobuy  # only for the fake server below


def create_app(**client_options: Any) -> FastAPI:
    """Build the app; `client_options` go to `AsyncHiobuy` (none: read the environment)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Startup: one client (one connection pool) for every request of this app.
        async with AsyncHiobuy(**client_options) as client:
            app.state.hiobuy = client
            yield
        # Shutdown: the pool is closed here, on the loop that opened it.

    app = FastAPI(lifespan=lifespan)

    def hiobuy(request: Request) -> AsyncHiobuy:
        client: AsyncHiobuy = request.app.state.hiobuy
        return client

    @app.get("/similar")
    async def similar(
        img: str,
        client: Annotated[AsyncHiobuy, Depends(hiobuy)],
        platform: str = "1688",
        language: str = "en_US",
    ) -> dict[str, Any]:
        try:
            result = await client.image_search(img, platform=platform, language=language)
        except InputError as error:  # bad image URL, platform or locale: the caller's fault
            raise HTTPException(status_code=422, detail=error.message) from None
        except APIError as error:  # e.g. the API could not fetch the image
            raise HTTPException(status_code=422, detail=error.msg) from None
        except HiobuyError:  # retries exhausted, timeouts, outages: ours
            raise HTTPException(status_code=502, detail="image search unavailable") from None
        return {
            "request_id": result.request_id,
            "products": [
                {"id": p.num_iid, "title": p.title, "price": str(p.price), "url": p.detail_url}
                for p in result.items[:10]
            ],
        }

    return app


app = create_app()  # no client yet: it is created at startup, inside the server's event loop


# --- Only for this example: drive the app in process against a local fake HioBuy. ---
async def main() -> None:
    fake = FakeHiobuy()
    async with fake.serve() as base_url:
        test_app = create_app(uuid=FakeHiobuy.DEFAULT_UUID, base_url=base_url)
        async with (
            test_app.router.lifespan_context(test_app),  # startup and shutdown
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=test_app), base_url="http://app"
            ) as http,
        ):
            for img in [fake.sample_images()[0], "https://img.example.com/unfetchable.jpg"]:
                response = await http.get("/similar", params={"img": img})
                body = response.json()
                print(response.status_code, body["products"][0] if response.is_success else body)
        print("closed at shutdown:", test_app.state.hiobuy.is_closed)


if __name__ == "__main__":
    anyio.run(main)
