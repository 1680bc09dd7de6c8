# SPDX-License-Identifier: MIT
"""`FakeHiobuy`: an in-memory HioBuy client API with scriptable faults."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, ClassVar

import anyio
import attrs
import httpx
import httpx2

from .._client import AsyncHiobuy
from . import _catalog, _create_order, _routes
from ._call import Call, Settings
from ._faults import Fault, FaultQueue
from ._handler import answer, apply_fault
from ._image_search import RESULTS_PER_SEARCH
from ._records import HeaderMap, RecordedOrder, RecordedRequest
from ._routes import EndpointName
from ._server import serve
from ._transport import FakeTransport
from ._wire import FakeRequest, FakeResponse

if TYPE_CHECKING:
    from anyio.abc import TaskStatus

__all__ = ["FAKE_BASE_URL", "FakeHiobuy", "FakeStats"]

FAKE_BASE_URL = "https://fake.hiobuy.test"
"""The base URL `FakeHiobuy.client()` uses; nothing resolves it, requests stay in process."""


@attrs.frozen
class FakeStats:
    """Counters of a `FakeHiobuy`, as a snapshot.

    Attributes:
        requests: Requests received (every one, faulted or not).
        connections: TCP connections accepted by `serve()` / `serve_forever()`.
        faults: Requests a scripted fault was applied to.
        in_flight: Requests being handled now.
        max_in_flight: The most requests ever handled at once.
    """

    requests: int
    connections: int
    faults: int
    in_flight: int
    max_in_flight: int


class FakeHiobuy:
    """An in-memory model of HioBuy's client API, for tests, demos and benchmarks.

    It serves image search, keyword search, product details, shop nick,
    order preview and create-order from one deterministic catalog, so the
    endpoints agree on an id: a product found by a search has details with
    the same `title`/`title_cn` and a `[price, max_price]` range holding the
    search price and every SKU price, and its details' `shop_id` resolves in
    shop-nick (on 1688).
    Answers never change between runs or processes. Titles follow the
    `Language` header; `use_platform="1"` gives 1688-native item fields.

    Conventions for tests:

    - An image URL containing `"unfetchable"` gets `ret=0` "image cannot be
      fetched"; any other image finds 20 products.
    - A keyword of the form `"<word> results:<N>"` (e.g. `"lamp results:1234"`,
      see `keyword_with_results()`) matches exactly N products (N <= 10,000),
      before price and 1688 filters; any other keyword matches 0 to 240 (0 for
      about one in eight). `total_results` is the true count after filters;
      pages past the end are empty.
    - Product ids from 600,000,000,000 to 799,999,999,999 are in the catalog
      on both marketplaces; any other id (`unknown_product_id()`) gets
      `ret=0` "product not found". Details also take a product URL on
      `detail.1688.com`/`m.1688.com` (`/offer/<id>.html`) or
      `item.taobao.com`/`detail.tmall.com` (`/item.htm?id=<id>`).
    - Every product has 4 to 8 SKUs whose `properties` cycle through plain
      (`"Color:White;Size:S"`, `"Color:White"`), full-width (`"颜色\uff1a白色\uff1b尺码\uff1aS"`),
      empty-part (`"Color:White;;Size:S"`) and colon-in-value
      (`"Color:White;Spec:Type-C:2m"`) forms; each product shows at least four.
    - Shop ids carry a check suffix: those from 1688 details resolve, those
      from Taobao details get `ret=0` (shop-nick is 1688 only), and
      `unknown_shop_id()` gets `ret=0` "shop not found".
    - Order preview quotes catalog SKUs (by `goods_id` and `sku_id`):
      shipping is free from 99.00 of goods up. Create-order records every
      order it accepts in `orders` and, like the real API, never
      de-duplicates: a request sent twice is two orders. Faults that hit
      after processing (`reset`, `stall`, a 5xx) record the order first;
      `refuse`, `rate_limit` and `api_error` record none.

    Failures are scripted with `fail_next()` and `fail_matching()`. Plug it
    in process with `client()` or `transport()`, or over real sockets with
    `serve()`; both give identical answers.

    Args:
        uuids: The accepted `X-Uuid` values; others get HTTP 401.
        latency: Seconds added before each answer.
        results_per_search: Items an image search draws (filters drop some).
        keyword_ignores_page: Keyword search ignores `page` and always answers
            page 1, like an API whose paging is broken (to test a pager's
            loop guard). Also an attribute, settable later.

    Example:
        ```python
        fake = FakeHiobuy()
        fake.fail_next(1, Fault.status(503))
        async with fake.client() as client:
            result = await client.image_search(fake.sample_images()[0], platform="1688")
        ```
    """

    DEFAULT_UUID: ClassVar[str] = "fake-uuid"
    """The uuid a `FakeHiobuy()` accepts by default."""

    def __init__(
        self,
        uuids: Iterable[str] = (DEFAULT_UUID,),
        *,
        latency: float = 0.0,
        results_per_search: int = RESULTS_PER_SEARCH,
        keyword_ignores_page: bool = False,
    ) -> None:
        self.uuids: tuple[str, ...] = tuple(uuids)
        if not self.uuids:
            raise ValueError("uuids must hold at least one accepted uuid")
        self.latency = latency
        """Seconds added before each answer (0 by default)."""
        self.results_per_search = results_per_search
        self.keyword_ignores_page = keyword_ignores_page
        """Keyword search answers page 1 whatever `page` asks for."""
        self._faults = FaultQueue()
        self._held = False
        self._waiters: list[anyio.Event] = []
        self._in_flight_watchers: list[tuple[int, anyio.Event]] = []
        self._reset_counters()

    def _reset_counters(self) -> None:
        self._requests: list[RecordedRequest] = []
        self._orders: list[RecordedOrder] = []
        self._count = 0
        self._connections = 0
        self._faulted = 0
        self._in_flight = 0
        self._max_in_flight = 0

    def __repr__(self) -> str:
        return f"<FakeHiobuy requests={self._count} uuids={len(self.uuids)}>"

    # -- scripting --------------------------------------------------------

    def fail_next(self, n: int, fault: Fault) -> None:
        """Apply `fault` to the next `n` requests (queued after earlier `fail_next` calls).

        Args:
            n: How many requests.
            fault: The fault, e.g. `Fault.status(503)`.

        Raises:
            ValueError: `n` is negative.
        """
        self._faults.add_next(n, fault)

    def fail_matching(
        self,
        substring: str | None = None,
        fault: Fault | None = None,
        times: int | None = None,
        *,
        endpoint: EndpointName | None = None,
        subject: str | None = None,
    ) -> None:
        """Apply `fault` to the requests that match every criterion given.

        A request's subject is what it is about: the image URL (image search),
        the keyword (keyword search), the product id or URL as sent
        (details), the `shop_id` (shop nick), the first line's `goods_id`
        (order preview), the `remark` (create-order: it holds the
        `client_reference`). Rules are checked before the
        `fail_next` queue, in the order added.

        Args:
            substring: Must occur in the subject; for a request without one
                (no such field, a body that is not JSON, an unknown path), in
                the raw body text instead. `""` matches every request.
            fault: The fault.
            times: How many matching requests to fail, or `None` for all.
            endpoint: Only requests to this endpoint: `"image_search"`,
                `"keyword_search"`, `"product_details"`, `"shop_nick"`,
                `"preview_order"` or `"create_order"`.
            subject: Only requests whose subject equals this, e.g.
                `fail_matching(endpoint="product_details", subject="808368541552",
                fault=Fault.status(503))`.

        Raises:
            TypeError: No `fault`, or no criterion at all.
            ValueError: `times` is negative, or `endpoint` is not one of the names.
        """
        if fault is None:
            raise TypeError("fail_matching() needs a fault")
        if substring is None and subject is None and endpoint is None:
            raise TypeError("fail_matching() needs a substring, a subject or an endpoint")
        if endpoint is not None and endpoint not in _routes.ENDPOINTS:
            names = ", ".join(sorted(_routes.ENDPOINTS))
            raise ValueError(f"unknown endpoint {endpoint!r}: expected one of {names}")
        self._faults.add_rule(fault, times, substring=substring, subject=subject, endpoint=endpoint)

    def hold(self) -> None:
        """Hold every answer (they count as in flight) until `release()`.

        For concurrency tests: hold, start the work, wait until `in_flight`
        reaches the expected number, check it, release.
        """
        self._held = True

    def release(self) -> None:
        """Let held answers go on, and stop holding new ones."""
        self._held = False
        waiters, self._waiters = self._waiters, []
        for event in waiters:
            event.set()

    async def wait_for_in_flight(self, n: int) -> None:
        """Wait until at least `n` requests are being handled at once.

        Pair it with `hold()` to check a concurrency limit without sleeping:
        `fake.hold()`, start the work, `await fake.wait_for_in_flight(8)`,
        assert `fake.in_flight == 8`, `fake.release()`. Wrap it in
        `anyio.fail_after()` so that a bug fails the test instead of hanging it.

        Args:
            n: The number of requests.
        """
        if self._in_flight >= n:
            return
        event = anyio.Event()
        self._in_flight_watchers.append((n, event))
        await event.wait()

    def clear(self) -> None:
        """Forget recorded requests, scripted faults and counters; release; latency 0.

        Requests still being handled stay counted in `in_flight` (and
        `max_in_flight` restarts from it) until they end.
        """
        self._faults.clear()
        in_flight = self._in_flight
        self._reset_counters()
        self._in_flight = self._max_in_flight = in_flight
        self.latency = 0.0
        self.release()

    # -- inspection -------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """The requests received so far, oldest first (a copy)."""
        return list(self._requests)

    @property
    def orders(self) -> list[RecordedOrder]:
        """The orders create-order accepted so far, oldest first (a copy).

        A request that reached the fake and was processed counts, whatever
        its answer became afterwards (a reset, a stall, a 5xx): these are the
        orders a merchant would find in the console.
        """
        return list(self._orders)

    @property
    def in_flight(self) -> int:
        """Requests being handled right now."""
        return self._in_flight

    @property
    def max_in_flight(self) -> int:
        """The most requests handled at once so far (for concurrency tests)."""
        return self._max_in_flight

    @property
    def stats(self) -> FakeStats:
        """A snapshot of the counters."""
        return FakeStats(
            requests=self._count,
            connections=self._connections,
            faults=self._faulted,
            in_flight=self._in_flight,
            max_in_flight=self._max_in_flight,
        )

    @staticmethod
    def sample_images() -> list[str]:
        """Return a dozen bundled sample image URLs (alicdn-style) for demos.

        Returns:
            Twelve distinct https URLs; each finds its own products.
        """
        return _catalog.sample_images()

    @staticmethod
    def keyword_with_results(n: int, word: str = "item") -> str:
        """Return a keyword that matches exactly `n` products (before filters).

        Args:
            n: The number of matches, 0 to 10,000.
            word: The word before it; different words match different products.

        Returns:
            `f"{word} results:{n}"`.
        """
        return f"{word} results:{n}"

    @staticmethod
    def unknown_product_id(n: int = 0) -> int:
        """Return a product id the catalog does not hold (details answer `ret=0`).

        Args:
            n: Pick the n-th such id (n >= 0), for many distinct ones.

        Returns:
            A positive id, the same on both marketplaces.
        """
        return _catalog.unknown_product_id(n)

    @staticmethod
    def unknown_shop_id() -> str:
        """Return a well-formed shop id that shop-nick does not know (`ret=0`).

        Returns:
            The id.
        """
        return _catalog.unknown_shop_id()

    # -- the core ---------------------------------------------------------

    async def handle(self, request: FakeRequest) -> FakeResponse:
        """Answer one request: record it, wait, apply any fault, answer.

        Both the in-process transport and the socket server call this, so
        they answer identically.

        Args:
            request: The request as received.

        Returns:
            The response to send.
        """
        self._count += 1
        request_id = f"fake-{self._count:06d}"
        call = Call.of(request)
        route = _routes.find(call.path)
        subject = route.subject(call) if route is not None else None
        text = subject if subject is not None else request.body.decode("utf-8", "replace")
        endpoint = route.name if route is not None else None
        fault = self._faults.take(endpoint, subject, text)
        if fault is not None:
            self._faulted += 1
        self._requests.append(
            RecordedRequest(
                method=request.method,
                path=request.target,
                headers=HeaderMap.redacted(request.headers),
                json=call.document,
                time=time.monotonic(),
                body=request.body,
                request_id=request_id,
                fault=fault,
                endpoint=endpoint,
            )
        )
        self._in_flight += 1
        self._max_in_flight = max(self._max_in_flight, self._in_flight)
        if self._in_flight_watchers:
            self._notify_in_flight()
        try:
            while self._held:
                event = anyio.Event()
                self._waiters.append(event)
                await event.wait()
            if self.latency > 0:
                await anyio.sleep(self.latency)
            settings = Settings(self.results_per_search, self.keyword_ignores_page)
            response = answer(
                request, call, route, uuids=self.uuids, request_id=request_id, settings=settings
            )
            if route is not None and route.name == "create_order":
                response = self._record_order(request, call, response, fault, request_id)
            if fault is not None and fault.kind == "stall":
                await anyio.sleep(fault.seconds)
            return response if fault is None else apply_fault(fault, response, request_id)
        finally:
            self._in_flight -= 1

    def _record_order(
        self,
        request: FakeRequest,
        call: Call,
        response: FakeResponse,
        fault: Fault | None,
        request_id: str,
    ) -> FakeResponse:
        """Record an accepted order (unless a fault refuses it unprocessed); number it."""
        if response.status != 200 or not response.body.startswith(b'{"ret":1,'):
            return response
        if fault is not None and not fault.records_order:
            return response
        number = len(self._orders) + 1
        self._orders.append(
            RecordedOrder(
                number=number,
                body=call.document,
                currency=request.header("currency"),
                request_id=request_id,
                time=time.monotonic(),
            )
        )
        return attrs.evolve(response, body=_create_order.accepted(number))

    def _notify_in_flight(self) -> None:
        waiting = []
        for n, event in self._in_flight_watchers:
            if self._in_flight >= n:
                event.set()
            else:
                waiting.append((n, event))
        self._in_flight_watchers = waiting

    def _connection_accepted(self) -> None:
        self._connections += 1

    # -- plugging it in ---------------------------------------------------

    def transport(self) -> FakeTransport:
        """Return an httpx transport that answers in process (asyncio or trio).

        It honours the request's read timeout (a stall past it raises
        `httpx.ReadTimeout`) and breaks mid-body for `Fault.reset()`.

        Returns:
            The transport; pass it to `httpx.AsyncClient(transport=...)` or
            `httpx2.AsyncClient(transport=...)`.
        """
        return FakeTransport(self)

    def client(self, **kwargs: Any) -> AsyncHiobuy:
        """Return an `AsyncHiobuy` wired to this fake in process.

        The uuid defaults to the first accepted one and `base_url` to
        `FAKE_BASE_URL`. The SDK never closes a caller's `http_client`; the one
        made here holds no sockets, so closing the `AsyncHiobuy` (or not) leaks
        nothing. It is an `httpx.AsyncClient` when `transport="httpx"` is
        given (or `HIOBUY_TRANSPORT=httpx` is set), else an `httpx2.AsyncClient`.

        Args:
            **kwargs: Passed to `AsyncHiobuy` (`uuid`, `timeout`,
                `max_retries`, `language`, ...); `http_client` is not allowed.

        Returns:
            The client.

        Raises:
            TypeError: `http_client` was given.
        """
        if "http_client" in kwargs:
            raise TypeError("FakeHiobuy.client() makes its own http_client")
        uuid = kwargs.pop("uuid", self.uuids[0])
        kwargs.setdefault("base_url", FAKE_BASE_URL)
        asked = kwargs.get("transport") or os.environ.get("HIOBUY_TRANSPORT")
        library: Any = httpx if asked == "httpx" else httpx2
        http_client = library.AsyncClient(transport=self.transport(), follow_redirects=False)
        return AsyncHiobuy(uuid, http_client=http_client, **kwargs)

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> AbstractAsyncContextManager[str]:
        """Serve the fake over real HTTP/1.1 (keep-alive) while the context is open.

        Works on asyncio and trio; on exit the listener, every connection and
        every handler task are closed.

        Args:
            host: The address to listen on.
            port: The port; 0 picks a free ephemeral one.

        Returns:
            An async context manager whose value is the base URL, e.g.
            `"http://127.0.0.1:54321"`.

        Example:
            ```python
            async with fake.serve() as base_url:
                async with AsyncHiobuy("fake-uuid", base_url=base_url) as client:
                    ...
            ```
        """
        return serve(self.handle, host, port, on_connection=self._connection_accepted)

    async def serve_forever(
        self,
        host: str = "127.0.0.1",
        port: int = 8787,
        *,
        on_ready: Callable[[str], object] | None = None,
        task_status: TaskStatus[str] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Serve the fake over HTTP/1.1 until cancelled (for `hiobuy-async fake-server`).

        Args:
            host: The address to listen on.
            port: The port; 0 picks a free one.
            on_ready: Called with the base URL once listening.
            task_status: Set to the base URL once listening, for
                `await task_group.start(fake.serve_forever, ...)`.
        """
        async with self.serve(host, port) as base_url:
            if on_ready is not None:
                on_ready(base_url)
            task_status.started(base_url)
            await anyio.sleep_forever()
