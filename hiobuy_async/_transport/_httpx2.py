# SPDX-License-Identifier: MIT
"""The httpx2 engine: the httpx backend (`_httpx`) over httpx2 and httpcore2.

httpx2 keeps httpx's API and httpcore2 keeps httpcore's internals (the
connection's h11 state, the pool's network backend), so the same guards
apply, pinned by tests/test_hostile_wire.py on both. httpx2 exposes no
public hook for them either: `AsyncHTTPTransport` takes no network backend.
Its pool no longer rescans every connection for each queued request, so it
is not sharded (docs/performance.md has the measurements).
"""

from __future__ import annotations

import httpcore2
import httpx2

from ._httpx import HttpxLibrary

__all__ = ["HTTPX2"]

HTTPX2 = HttpxLibrary("httpx2", httpx2, httpcore2, sharded=False)
"""httpx2 and httpcore2: one pool of `max_connections`."""
