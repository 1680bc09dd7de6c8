# SPDX-License-Identifier: MIT
"""A low-CPU HTTP/1.1 keep-alive server for the benchmarks (127.0.0.1 only).

A raw asyncio `Protocol`: no framework, no header parsing beyond the request
line and `Content-Length`, prebuilt response bytes. It answers every POST with
an image-search response chosen by a path prefix, `/i<items>/l<latency ms>/...`
(so `base_url="http://127.0.0.1:PORT/i20/l20"` gets 20 items after 20 ms), and
`GET /__stats` with `{"connections": accepted so far, "requests": answered}`.
Clients must not pipeline (none of the benchmarked ones do).

    python -m bench.server [--port 0]     # prints "PORT <n>"; stop it with SIGTERM or Ctrl-C
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal

from bench.fixtures import make_response

_PATH = re.compile(rb"^/i(\d+)/l(\d+)/")
_STATUS_LINE = b"HTTP/1.1 200 OK\r\n"


def _http_response(body: bytes, content_type: bytes = b"application/json") -> bytes:
    return (
        _STATUS_LINE
        + b"Content-Type: "
        + content_type
        + b"\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\nx-request-id: bench\r\n\r\n"
        + body
    )


class Stats:
    """Counters shared by every connection of one server."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests = 0


class _Handler(asyncio.Protocol):
    def __init__(self, stats: Stats, responses: dict[int, bytes]) -> None:
        self._stats = stats
        self._responses = responses
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._stats.connections += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buffer[:end])
            length = 0
            lower = head.lower()
            at = lower.find(b"\r\ncontent-length:")
            if at >= 0:
                stop = lower.find(b"\r\n", at + 2)
                length = int(lower[at + 17 : stop if stop >= 0 else None])
            if len(buffer) < end + 4 + length:
                return
            del buffer[: end + 4 + length]
            self._answer(head)

    def _answer(self, head: bytes) -> None:
        self._stats.requests += 1
        target = head.split(b" ", 2)[1]
        if target == b"/__stats":
            body = json.dumps(
                {"connections": self._stats.connections, "requests": self._stats.requests}
            ).encode()
            self._write(_http_response(body))
            return
        match = _PATH.match(target)
        items, latency_ms = (int(match[1]), int(match[2])) if match else (20, 0)
        response = self._responses.get(items)
        if response is None:
            response = self._responses[items] = _http_response(make_response(items))
        if latency_ms:
            self._loop.call_later(latency_ms / 1000, self._write, response)
        else:
            self._write(response)

    def _write(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)


async def serve(
    port: int = 0, *, max_seconds: float = 3600.0, parent_pid: int | None = None
) -> None:
    """Serve on 127.0.0.1:`port` until SIGTERM/SIGINT, `max_seconds`, or the parent exits."""
    stats = Stats()
    responses = {n: _http_response(make_response(n)) for n in (20, 60)}
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: _Handler(stats, responses), "127.0.0.1", port, backlog=1024
    )
    bound = server.sockets[0].getsockname()[1]
    print(f"PORT {bound}", flush=True)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with server:
        # Bounded in time, and gone with the process that started it.
        deadline = loop.time() + max_seconds
        while not stop.is_set() and loop.time() < deadline:
            if parent_pid is not None and os.getppid() != parent_pid:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description="benchmark server (127.0.0.1 only)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=3600.0)
    parser.add_argument("--parent-pid", type=int, help="exit when this process is gone")
    args = parser.parse_args()
    asyncio.run(serve(args.port, max_seconds=args.max_seconds, parent_pid=args.parent_pid))


if __name__ == "__main__":
    main()
