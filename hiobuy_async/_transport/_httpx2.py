# SPDX-License-Identifier: MIT
"""The httpx2 engine: the httpx backend (`_httpx`) over httpx2 and httpcore2.

httpx2 keeps httpx's API and httpcore2 keeps httpcore's internals (the
connection's h11 state, the pool's network backend), so the same guards
apply, pinned by tests/test_hostile_wire.py on both. httpx2 exposes no
public hook for them either: `AsyncHTTPTransport` takes no network backend.
Its rewritten pool still probes every idle connection at each request, so
the SDK's httpx2 pool is sharded like httpx's: when the client does work of
its own between requests (parsing, models), more of its connections are
idle at each request, and shards of 16 keep that cost flat (measured in
docs/performance.md).
"""

from __future__ import annotations

import httpcore2
import httpx2

from ._httpx import HttpxLibrary

__all__ = ["HTTPX2"]

HTTPX2 = HttpxLibrary("httpx2", httpx2, httpcore2)
"""httpx2 and httpcore2, in shards of `SHARD_SIZE` connections."""
