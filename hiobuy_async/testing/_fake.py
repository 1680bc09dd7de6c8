# SPDX-License-Identifier: MIT
"""`FakeHiobuy`: an in-memory HioBuy image-search API with scriptable faults."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, ClassVar

import anyio
import attrs
import httpx

from .._client import AsyncHiobuy
from ._faults import Fault, FaultQueue
from ._handler import FakeRequest, FakeResponse, answer, apply_fault
from ._model import RESULTS_PER_SEARCH, sample_images
from ._records import HeaderMap, RecordedRequest
from ._server import serve
from ._transport import FakeTransport

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
    """An in-memory model of HioBuy's image search, for tests, demos and benchmarks.

    Answers are deterministic: the same image URL finds the same 20 products
    every time, with titles in the requested `Language` and 1688-native
    fields when `use_platform="1"`. Image URLs containing `"unfetchable"`
    get `ret=0` "image cannot be fetched". Failures are scripted with
    `fail_next()` and `fail_matching()`.

    Plug it in process with `client()` or `transport()`, or over real
    sockets with `serve()`; both give identical answers.

    Args:
        uuids: The accepted `X-Uuid` values; others get HTTP 401.
        latency: Seconds added before each answer.
        results_per_search: Items a search draws (filters drop some).

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
    ) -> None:
        self.uuids: tuple[str, ...] = tuple(uuids)
        if not self.uuids:
            raise ValueError("uuids must hold at least one accepted uuid")
        self.latency = latency
        """Seconds added before each answer (0 by default)."""
        self.results_per_search = results_per_search
        self._faults = FaultQueue()
        self._held = False
        self._waiters: list[anyio.Event] = []
        self._in_flight_watchers: list[tuple[int, anyio.Event]] = []
        self._reset_counters()

    def _reset_counters(self) -> None:
        self._requests: list[RecordedRequest] = []
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

    def fail_matching(self, substring: str, fault: Fault, times: int | None = None) -> None:
        """Apply `fault` to requests whose image URL contains `substring`.

        Rules are checked before the `fail_next` queue, in the order added.
        For a body without an `img`, the raw body text is matched instead.

        Args:
            substring: The text to look for.
            fault: The fault.
            times: How many matching requests to fail, or `None` for all.

        Raises:
            ValueError: `times` is negative.
        """
        self._faults.add_rule(substring, fault, times)

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
        """Forget recorded requests, scripted faults and counters; release; latency 0."""
        self._faults.clear()
        self._reset_counters()
        self.latency = 0.0
        self.release()

    # -- inspection -------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """The requests received so far, oldest first (a copy)."""
        return list(self._requests)

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
        return sample_images()

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
        document = request.json()
        img = document.get("img") if isinstance(document, dict) else None
        subject = img if isinstance(img, str) else request.body.decode("utf-8", "replace")
        fault = self._faults.take(subject)
        if fault is not None:
            self._faulted += 1
        self._requests.append(
            RecordedRequest(
                method=request.method,
                path=request.target,
                headers=HeaderMap.redacted(request.headers),
                json=document,
                time=time.monotonic(),
                body=request.body,
                request_id=request_id,
                fault=fault,
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
            if fault is not None and fault.kind == "stall":
                await anyio.sleep(fault.seconds)
            response = answer(
                request,
                uuids=self.uuids,
                request_id=request_id,
                results_per_search=self.results_per_search,
            )
            return response if fault is None else apply_fault(fault, response, request_id)
        finally:
            self._in_flight -= 1

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
            The transport; pass it to `httpx.AsyncClient(transport=...)`.
        """
        return FakeTransport(self)

    def client(self, **kwargs: Any) -> AsyncHiobuy:
        """Return an `AsyncHiobuy` wired to this fake in process.

        The uuid defaults to the first accepted one and `base_url` to
        `FAKE_BASE_URL`. The SDK never closes a caller's `http_client`; the one
        made here holds no sockets, so closing the `AsyncHiobuy` (or not) leaks
        nothing.

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
        http_client = httpx.AsyncClient(transport=self.transport(), follow_redirects=False)
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
