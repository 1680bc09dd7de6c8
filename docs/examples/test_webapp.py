"""Testing a FastAPI app: its lifespan, its endpoint, against the fake HioBuy."""

from collections.abc import AsyncIterator

import httpx
import pytest
from webapp_fastapi import create_app  # your app factory

from hiobuy_async.testing import FakeHiobuy, Fault

pytest_plugins = ["hiobuy_async.testing.pytest_plugin"]  # usually in conftest.py


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def http(fake_hiobuy: FakeHiobuy) -> AsyncIterator[httpx.AsyncClient]:
    """The app, started with its lifespan and pointed at the fake, behind an ASGI client."""
    async with fake_hiobuy.serve() as base_url:
        app = create_app(uuid=FakeHiobuy.DEFAULT_UUID, base_url=base_url, max_retries=0)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://testserver"
            ) as client,
        ):
            yield client


@pytest.mark.anyio
async def test_similar(http: httpx.AsyncClient, fake_hiobuy: FakeHiobuy) -> None:
    img = fake_hiobuy.sample_images()[0]

    response = await http.get("/similar", params={"img": img, "language": "ja"})

    assert response.status_code == 200
    assert len(response.json()["products"]) == 10
    [sent] = fake_hiobuy.requests
    assert sent.json["img"] == img
    assert sent.headers["Language"] == "ja"


@pytest.mark.anyio
async def test_one_client_for_all_requests(
    http: httpx.AsyncClient, fake_hiobuy: FakeHiobuy
) -> None:
    for img in fake_hiobuy.sample_images()[:5]:
        assert (await http.get("/similar", params={"img": img})).status_code == 200

    assert fake_hiobuy.stats.connections == 1  # one pooled keep-alive connection, reused


@pytest.mark.anyio
async def test_bad_locale_is_rejected_before_any_request(
    http: httpx.AsyncClient, fake_hiobuy: FakeHiobuy
) -> None:
    img = fake_hiobuy.sample_images()[0]

    response = await http.get(
        "/similar", params={"img": img, "platform": "taobao", "language": "ja"}
    )

    assert response.status_code == 422
    assert fake_hiobuy.requests == []


@pytest.mark.anyio
async def test_outage_is_a_502(http: httpx.AsyncClient, fake_hiobuy: FakeHiobuy) -> None:
    fake_hiobuy.fail_next(1, Fault.status(503))

    response = await http.get("/similar", params={"img": fake_hiobuy.sample_images()[0]})

    assert response.status_code == 502
    assert response.json() == {"detail": "image search unavailable"}
