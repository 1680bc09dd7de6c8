"""Helpers shared by the tests: one of each, imported by every test file that needs it.

- `ENGINES`: the SDK's own list of engines, for `pytest.mark.parametrize`;
- `make_client`: a client for a base URL (a served fake, a raw server) on one engine;
- `mock_client`: a client over `httpx.MockTransport`, for request shaping;
- `Recorder`: a MockTransport handler that records what the client sent;
  `ReplyRecorder`, one that answers every request alike;
- `ORDER_ADDRESS` and `ORDER_PERSONAL`: the order tests' address, and its
  parts that nothing may show;
- `cli`: one command line run in-process, its exit code and output;
- `exception_chain`: every exception reachable from one, as a traceback (or a
  debugger) would find it;
- `serve_tcp` and `unused_port`: a raw-socket server on 127.0.0.1, and a port
  nothing listens on.
"""

from __future__ import annotations

import io
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import attrs
import httpx

from hiobuy_async import Address, AsyncHiobuy
from hiobuy_async._transport import TRANSPORT_KINDS
from hiobuy_async.cache import Cache
from hiobuy_async.testing import FakeHiobuy

MakeCache = Callable[..., Cache]
"""What the `make_cache` fixture (conftest.py) gives: a cache of the given options."""

ENGINES = TRANSPORT_KINDS
"""Every engine the SDK has (httpx, httpx2, aiohttp), from the SDK itself.

The (aiohttp, trio) combination is dropped at collection by conftest.py.
"""

MOCK_BASE_URL = "https://api.hiobuy.test"
SEED_SAMPLE = (Path(__file__).parent / "fixtures" / "seed_sample_response.json").read_bytes()

ORDER_ADDRESS = Address(
    receiver_name="Han Meimei",
    postcode="200000",
    province="Shanghai",
    city="Shanghai",
    district="Pudong",
    address="88 Secret Lane, Room 1702",
    phone="13912345678",
)
ORDER_PERSONAL = ("Han Meimei", "88 Secret Lane", "13912345678")
"""The parts of `ORDER_ADDRESS` that no log, repr or error may show."""


def make_client(
    base_url: str,
    transport: str | None = None,
    *,
    uuid: str = FakeHiobuy.DEFAULT_UUID,
    initial_backoff: float | None = None,
    **options: Any,
) -> AsyncHiobuy:
    """A client of `base_url` on engine `transport` (None: the SDK's choice).

    A test file fixes its own options once with `functools.partial`; options
    given at the call win. `initial_backoff` shrinks the retry backoff
    (`Retry-After` waits stay real).
    """
    client = AsyncHiobuy(uuid, base_url=base_url, transport=transport, **options)  # type: ignore[arg-type]
    if initial_backoff is not None:
        client._pipeline.retry_policy = attrs.evolve(
            client._pipeline.retry_policy, initial_backoff=initial_backoff
        )
    return client


@asynccontextmanager
async def mock_client(
    handler: Callable[[httpx.Request], Any],
    /,
    *,
    uuid: str = FakeHiobuy.DEFAULT_UUID,
    base_url: str = MOCK_BASE_URL,
    follow_redirects: bool = False,
    **options: Any,
) -> AsyncIterator[AsyncHiobuy]:
    """A client whose requests `handler` answers (an `httpx.MockTransport`); both closed after."""
    async with (
        httpx.AsyncClient(
            transport=httpx.MockTransport(handler), follow_redirects=follow_redirects
        ) as http_client,
        AsyncHiobuy(uuid, base_url=base_url, http_client=http_client, **options) as client,
    ):
        yield client


class Recorder:
    """A MockTransport handler: records every request; answers with `responses` in turn, then
    with `otherwise` (a response, or a function of the request; by default the seed sample)."""

    def __init__(
        self,
        *responses: httpx.Response,
        otherwise: httpx.Response | Callable[[httpx.Request], httpx.Response] | None = None,
    ) -> None:
        self.requests: list[httpx.Request] = []
        self._responses = list(responses)
        self._otherwise = otherwise

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self._responses:
            return self._responses.pop(0)
        if isinstance(self._otherwise, httpx.Response):
            return self._otherwise
        if self._otherwise is not None:
            return self._otherwise(request)
        return httpx.Response(200, content=SEED_SAMPLE, headers={"x-request-id": "rid-ok"})

    @property
    def only(self) -> httpx.Request:
        """The one request sent (fails unless exactly one was)."""
        assert len(self.requests) == 1, self.requests
        return self.requests[0]

    def body(self, index: int = 0) -> Any:
        """The JSON body of request `index`."""
        return json.loads(self.requests[index].content)


class ReplyRecorder(Recorder):
    """A `Recorder` that answers every request with `reply` (a test may change it)."""

    def __init__(self, reply: bytes, *, request_id: str) -> None:
        super().__init__(otherwise=self.answer)
        self.reply = reply
        self.request_id = request_id

    def answer(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=self.reply, headers={"x-request-id": self.request_id})

    def client(self, **kwargs: Any) -> AbstractAsyncContextManager[AsyncHiobuy]:
        """A `mock_client` over this recorder (uuid "u-1")."""
        return mock_client(self, uuid="u-1", **kwargs)


async def cli(*argv: str) -> tuple[int, str, str]:
    """Run the command line `argv` in-process (no rich output); its exit code, stdout and stderr."""
    from hiobuy_async._cli._args import parse_args  # noqa: PLC0415 - only the CLI tests need it
    from hiobuy_async._cli._commands import Streams, run_command  # noqa: PLC0415
    from hiobuy_async._cli._render import Renderer  # noqa: PLC0415

    out, err = io.StringIO(), io.StringIO()
    streams = Streams(stdin=io.StringIO(""), stdout=out, stderr=err)
    code = await run_command(parse_args(argv), streams, Renderer(out, err, use_rich=False))
    return code, out.getvalue(), err.getvalue()


def exception_chain(
    exc: BaseException, *, suppressed: bool = True
) -> Iterator[tuple[str, BaseException]]:
    """Every exception reachable from `exc` through `__cause__` and `__context__`.

    Yields (how it was reached, exception). With `suppressed=False`, only what
    a printed traceback shows: `__cause__`, or else an unsuppressed `__context__`.
    A context hidden by `raise ... from None` is still an attribute of the raised
    error, so anything that walks it (error reporters, debuggers) would see it:
    the default walks it too.
    """
    seen: set[int] = set()
    pending: list[tuple[str, BaseException]] = [("raised", exc)]
    while pending:
        how, current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield how, current
        cause, context = current.__cause__, current.__context__
        if cause is not None:
            pending.append((f"{how}.__cause__", cause))
            if not suppressed:
                continue
        if context is not None and (suppressed or not current.__suppress_context__):
            hidden = " (suppressed)" if current.__suppress_context__ else ""
            pending.append((f"{how}.__context__{hidden}", context))


@asynccontextmanager
async def serve_tcp(
    handle: Callable[[anyio.abc.SocketStream], Awaitable[None]],
) -> AsyncIterator[int]:
    """Serve `handle` (one call per accepted connection) on 127.0.0.1; yields the port."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port: int = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, handle)
        try:
            yield port
        finally:
            group.cancel_scope.cancel()


def unused_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (a connection to it is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
