"""The HTTP layer: bounded body reading, decoding, redirects, httpx error mapping."""

from __future__ import annotations

import functools
import gzip
import itertools
import json
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path

import helpers
import httpx
import pytest

from hiobuy_async import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ResponseValidationError,
    ServerError,
)
from hiobuy_async._retry import set_no_backoff

BASE = "https://api.hiobuy.test"
IMG = "https://example.com/a.jpg"
SEED_SAMPLE = (Path(__file__).parent / "fixtures" / "seed_sample_response.json").read_bytes()
MiB = 1024 * 1024


class ChunkStream(httpx.AsyncByteStream):
    """A response body that arrives chunk by chunk, as from a socket (not pre-decoded).

    A plain async iterator, not an async generator, so that an early stop by the
    reader cannot leave an unfinished generator of the test's own behind.
    """

    def __init__(self, chunks: Iterable[bytes], *, fail_after: int | None = None) -> None:
        self._chunks = iter(chunks)
        self._fail_after = fail_after
        self.sent = 0
        self.chunks_sent = 0
        self.closed = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        if self._fail_after is not None and self.chunks_sent >= self._fail_after:
            raise httpx.ReadError("connection reset by peer")
        try:
            chunk = next(self._chunks)
        except StopIteration:
            raise StopAsyncIteration from None
        self.sent += len(chunk)
        self.chunks_sent += 1
        return chunk

    async def aclose(self) -> None:
        self.closed = True


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def streamed(
    status: int, chunks: Iterable[bytes], headers: dict[str, str] | None = None
) -> tuple[Callable[[httpx.Request], httpx.Response], list[ChunkStream]]:
    """A handler answering every request with a fresh streamed body."""
    streams: list[ChunkStream] = []
    materialised = list(chunks) if isinstance(chunks, list) else None

    def handler(request: httpx.Request) -> httpx.Response:
        stream = ChunkStream(materialised if materialised is not None else chunks)
        streams.append(stream)
        return httpx.Response(status, headers=headers or {}, stream=stream)

    return handler, streams


mock_client = functools.partial(helpers.mock_client, uuid="t-uuid", base_url=BASE, max_retries=0)


# --- decoded-size cap -----------------------------------------------------------------


@pytest.mark.anyio
async def test_streamed_identity_body_within_cap_is_read() -> None:
    handler, _ = streamed(200, split(SEED_SAMPLE, 7), {"x-request-id": "r1"})
    async with mock_client(handler, max_response_bytes=len(SEED_SAMPLE)) as client:
        result = await client.image_search(IMG, platform="taobao")
    assert result.items[0].num_iid == 808368541552
    assert result.request_id == "r1"


@pytest.mark.anyio
async def test_streamed_identity_body_one_byte_over_cap_is_refused() -> None:
    handler, streams = streamed(200, split(SEED_SAMPLE, 7), {"x-request-id": "r2"})
    async with mock_client(handler, max_response_bytes=len(SEED_SAMPLE) - 1) as client:
        with pytest.raises(ResponseValidationError, match="limit") as info:
            await client.image_search(IMG, platform="taobao")
    assert info.value.request_id == "r2"
    assert streams[0].closed


@pytest.mark.anyio
async def test_in_memory_body_over_cap_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b'{"ret":1,"data":{}}' + b" " * 5000)

    async with mock_client(handler, max_response_bytes=4096) as client:
        with pytest.raises(ResponseValidationError, match="limit"):
            await client.image_search(IMG, platform="taobao")


@pytest.mark.anyio
async def test_declared_content_length_over_cap_is_refused_before_reading() -> None:
    handler, streams = streamed(200, [b"{}"] * 10, {"content-length": str(10 * MiB)})
    async with mock_client(handler, max_response_bytes=MiB) as client:
        with pytest.raises(ResponseValidationError, match="limit"):
            await client.image_search(IMG, platform="taobao")
    assert streams[0].sent == 0


@pytest.mark.anyio
async def test_endless_body_is_cut_at_the_cap() -> None:
    cap = 64 * 1024
    chunk = b"x" * 1024
    handler, streams = streamed(200, itertools.repeat(chunk))
    async with mock_client(handler, max_response_bytes=cap) as client:
        with pytest.raises(ResponseValidationError, match="limit"):
            await client.image_search(IMG, platform="taobao")
    (stream,) = streams
    assert cap < stream.sent <= cap + 2 * len(chunk)
    assert stream.closed


@pytest.mark.anyio
async def test_endless_error_body_is_truncated_not_read_forever() -> None:
    chunk = b"<p>gateway</p>\n" * 64
    handler, streams = streamed(502, itertools.repeat(chunk), {"x-request-id": "r502"})
    async with mock_client(handler) as client:
        with pytest.raises(ServerError) as info:
            await client.image_search(IMG, platform="taobao")
    (stream,) = streams
    assert stream.sent <= 64 * 1024 + len(chunk)
    assert stream.closed
    assert info.value.status_code == 502
    assert info.value.request_id == "r502"
    excerpt = info.value.body_excerpt
    assert excerpt is not None
    assert "gateway" in excerpt
    assert len(excerpt) <= 201
    assert "\n" not in excerpt


# --- compressed bodies ----------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, no zlib wrapper
        ("GZIP", gzip.compress),
    ],
)
async def test_compressed_body_decodes(encoding: str, compress: Callable[[bytes], bytes]) -> None:
    handler, _ = streamed(200, split(compress(SEED_SAMPLE), 5), {"content-encoding": encoding})
    async with mock_client(handler, max_response_bytes=len(SEED_SAMPLE)) as client:
        result = await client.image_search(IMG, platform="taobao")
    assert result.items[0].title == "Sexy Lace Low-cut Pajamas…"


@pytest.mark.anyio
async def test_gzip_inflating_one_byte_past_cap_is_refused() -> None:
    handler, _ = streamed(200, [gzip.compress(SEED_SAMPLE)], {"content-encoding": "gzip"})
    async with mock_client(handler, max_response_bytes=len(SEED_SAMPLE) - 1) as client:
        with pytest.raises(ResponseValidationError, match="limit"):
            await client.image_search(IMG, platform="taobao")


BOMB_SIZE = 64 * MiB
GZIP_BOMB = gzip.compress(b"\0" * BOMB_SIZE, compresslevel=9)


@pytest.mark.anyio
async def test_gzip_bomb_is_refused_in_bounded_memory() -> None:
    assert len(GZIP_BOMB) < 100 * 1024
    cap = MiB
    handler, streams = streamed(
        200,
        [GZIP_BOMB],  # one small chunk that inflates 64x past the cap
        {"content-encoding": "gzip", "content-length": str(len(GZIP_BOMB))},
    )
    tracemalloc.start()
    try:
        async with mock_client(handler, max_response_bytes=cap) as client:
            with pytest.raises(ResponseValidationError, match="limit"):
                await client.image_search(IMG, platform="taobao")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert streams[0].closed
    # Inflating the whole bomb would need 64 MiB; bounded decoding needs about the cap.
    assert peak < 16 * MiB


@pytest.mark.anyio
async def test_gzip_bomb_in_many_chunks_stops_reading_early() -> None:
    chunks = split(GZIP_BOMB, 1024)
    handler, streams = streamed(200, chunks, {"content-encoding": "gzip"})
    async with mock_client(handler, max_response_bytes=MiB) as client:
        with pytest.raises(ResponseValidationError, match="limit"):
            await client.image_search(IMG, platform="taobao")
    assert streams[0].chunks_sent < len(chunks)


@pytest.mark.anyio
async def test_endless_data_after_the_gzip_stream_is_not_read() -> None:
    # A complete gzip member, then 125 MiB of junk: zlib would keep all of it.
    # Refused at the first junk chunk, as junk in the same chunk is.
    endless = itertools.chain([gzip.compress(SEED_SAMPLE)], itertools.repeat(b"\0" * 65536, 2000))
    handler, streams = streamed(200, endless, {"content-encoding": "gzip"})
    async with mock_client(handler, max_response_bytes=MiB) as client:
        with pytest.raises(ResponseValidationError, match="after the end"):
            await client.image_search(IMG, platform="taobao")
    assert (
        streams[0].chunks_sent <= 3
    )  # stopped right after its end (one read more: see _read_body)


@pytest.mark.anyio
async def test_junk_after_the_gzip_stream_in_the_same_chunk_is_refused() -> None:
    handler, _ = streamed(
        200, [gzip.compress(SEED_SAMPLE) + b"trailing junk"], {"content-encoding": "gzip"}
    )
    async with mock_client(handler) as client:
        with pytest.raises(ResponseValidationError, match="after the end"):
            await client.image_search(IMG, platform="taobao")


@pytest.mark.anyio
@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_corrupt_compressed_body(encoding: str) -> None:
    handler, _ = streamed(
        200, [b"this is not compressed at all"], {"content-encoding": encoding, "x-request-id": "c"}
    )
    async with mock_client(handler) as client:
        with pytest.raises(ResponseValidationError) as info:
            await client.image_search(IMG, platform="taobao")
    assert info.value.request_id == "c"


@pytest.mark.anyio
async def test_unsupported_content_encoding_is_refused() -> None:
    handler, _ = streamed(200, [b"\x0b\x02\x80{}\x03"], {"content-encoding": "br"})
    async with mock_client(handler) as client:
        with pytest.raises(ResponseValidationError, match="content-encoding"):
            await client.image_search(IMG, platform="taobao")


@pytest.mark.anyio
async def test_error_status_with_unsupported_encoding_still_maps_status() -> None:
    handler, _ = streamed(503, [b"\x0b\x02\x80"], {"content-encoding": "br"})
    async with mock_client(handler) as client:
        with pytest.raises(ServerError) as info:
            await client.image_search(IMG, platform="taobao")
    assert info.value.status_code == 503


@pytest.mark.anyio
async def test_gzipped_error_body_is_decoded_for_the_excerpt() -> None:
    body = gzip.compress(b'{"error": "upstream down"}')
    handler, _ = streamed(500, [body], {"content-encoding": "gzip"})
    async with mock_client(handler) as client:
        with pytest.raises(ServerError) as info:
            await client.image_search(IMG, platform="taobao")
    assert info.value.body_excerpt == '{"error": "upstream down"}'


# --- redirects ------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_redirect_is_an_error_and_never_followed(status: int) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            status, headers={"Location": "https://evil.test/steal", "x-request-id": "rr"}
        )

    async with mock_client(handler, follow_redirects=True, max_retries=2) as client:
        with pytest.raises(APIStatusError) as info:
            await client.image_search(IMG, platform="taobao")
    assert type(info.value) is APIStatusError
    assert info.value.status_code == status
    assert info.value.request_id == "rr"
    assert len(seen) == 1
    assert seen[0].url.host == "api.hiobuy.test"


# --- httpx failures -------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (httpx.ConnectError("refused"), APIConnectionError),
        (httpx.ReadError("reset"), APIConnectionError),
        (httpx.RemoteProtocolError("bad framing"), APIConnectionError),
        (httpx.ConnectTimeout("slow connect"), APITimeoutError),
        (httpx.ReadTimeout("slow read"), APITimeoutError),
        (httpx.WriteTimeout("slow write"), APITimeoutError),
        (httpx.PoolTimeout("no slot"), APITimeoutError),
    ],
)
async def test_httpx_errors_are_mapped(raised: Exception, expected: type[Exception]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise raised

    async with mock_client(handler) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.image_search(IMG, platform="taobao")
    assert type(info.value) is expected
    assert type(raised).__name__ in str(info.value)
    assert info.value.__cause__ is None


@pytest.mark.anyio
async def test_connection_reset_mid_body_is_a_connection_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        stream = ChunkStream(split(SEED_SAMPLE, 50), fail_after=3)
        return httpx.Response(200, headers={"x-request-id": "mid"}, stream=stream)

    async with mock_client(handler) as client:
        with pytest.raises(APIConnectionError, match="ReadError"):
            await client.image_search(IMG, platform="taobao")


@pytest.mark.anyio
async def test_pool_still_serves_after_failures() -> None:
    set_no_backoff(True)
    calls = itertools.count()

    def handler(request: httpx.Request) -> httpx.Response:
        n = next(calls)
        if n == 0:
            raise httpx.ConnectError("refused")
        if n == 1:
            return httpx.Response(200, stream=ChunkStream([b'{"ret":1,'], fail_after=0))
        return httpx.Response(200, content=SEED_SAMPLE)

    async with mock_client(handler) as client:
        with pytest.raises(APIConnectionError):
            await client.image_search(IMG, platform="taobao")
        with pytest.raises(APIConnectionError):
            await client.image_search(IMG, platform="taobao")
        result = await client.image_search(IMG, platform="taobao")
    assert len(result.items) == 1


@pytest.mark.anyio
async def test_request_body_is_compact_utf8_json() -> None:
    bodies: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        return httpx.Response(200, content=SEED_SAMPLE)

    img = "https://example.com/图片.jpg"
    async with mock_client(handler) as client:
        await client.image_search(img, platform="1688", filters=["new7"])
    assert json.loads(bodies[0]) == {
        "img": img,
        "platform": "1688",
        "use_platform": "0",
        "filter": ["new7"],
    }
