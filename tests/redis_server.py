"""A throwaway `redis-server` on a free loopback port, for the Redis quota tests."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import anyio
import httpx

from hiobuy_async import RateLimitError
from hiobuy_async.quota import RedisQuota


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A `redis-server` on a free port, no persistence, started and stopped by the tests.

    `stop()` then `start()` brings it back on the same port (empty: nothing is saved).
    """

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        if self._process is not None:
            return
        self._process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self._process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not answer on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Kill it (SIGKILL: as abrupt as a crash)."""
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.wait()

    def freeze(self) -> None:
        """SIGSTOP: the server keeps its connections but answers nothing (a hung Redis)."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    def thaw_if_frozen(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)

    def flush(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
            sock.sendall(b"FLUSHALL\r\n")
            sock.recv(64)


def find_redis_server() -> str | None:
    return shutil.which("redis-server")


# A worker process for the multi-process tests:
#   python tests/redis_server.py run BACKEND REDIS_URL KEY RATE BASE_URL REQUESTS CONCURRENCY
#   python tests/redis_server.py probe BACKEND REDIS_URL KEY RATE
# `run` sends REQUESTS requests to BASE_URL, each after `acquire()`, and calls
# `pause_for(Retry-After)` on a 429; `probe` calls `acquire()` once. Each prints
# one JSON line with what happened.


async def _run(
    redis_url: str, key: str, rate: float, base_url: str, requests: int, tasks: int
) -> dict[str, object]:
    remaining = requests
    statuses: list[int] = []
    async with (
        RedisQuota(redis_url, key=key, rate=rate, expected_processes=4) as quota,
        httpx.AsyncClient(base_url=base_url, timeout=10) as http,
    ):

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await quota.acquire()
                response = await http.post(
                    "/api/client/third-purchase/image/query",
                    json={"imageUrl": "https://example.com/a.jpg", "platform": "1688"},
                )
                statuses.append(response.status_code)
                if response.status_code == 429:
                    await quota.pause_for(float(response.headers["retry-after"]))

        async with anyio.create_task_group() as tg:
            for _ in range(tasks):
                tg.start_soon(worker)
    return {"sent": len(statuses), "429": statuses.count(429)}


async def _probe(redis_url: str, key: str, rate: float) -> dict[str, object]:
    async with RedisQuota(redis_url, key=key, rate=rate) as quota:
        start = anyio.current_time()
        try:
            with anyio.fail_after(5):
                await quota.acquire()
        except RateLimitError as exc:
            return {
                "raised": True,
                "retry_after": exc.retry_after,
                "waited": anyio.current_time() - start,
            }
        return {"raised": False, "waited": anyio.current_time() - start}


def main(argv: list[str]) -> None:
    mode, backend, redis_url, key, rate = argv[:5]
    if mode == "run":
        base_url, requests, tasks = argv[5:8]
        result = anyio.run(
            _run, redis_url, key, float(rate), base_url, int(requests), int(tasks), backend=backend
        )
    else:
        result = anyio.run(_probe, redis_url, key, float(rate), backend=backend)
    print(json.dumps({"backend": backend, **result}))


if __name__ == "__main__":
    main(sys.argv[1:])
