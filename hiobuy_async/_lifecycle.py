# SPDX-License-Identifier: MIT
"""A client's lifecycle: the event loop it belongs to, whether it is closed, its calls.

A connection pool belongs to the event loop that opened it: asyncio's
streams, aiohttp's session and anyio's limiters all hold that loop. Used
from another loop (a second `asyncio.run()`, `trio.run()` after asyncio,
another thread) they fail deep inside the HTTP library with errors that say
nothing of the cause. So a client remembers the loop it was first used on
and refuses any other before it touches the pool, which keeps working on
its own loop.

`aclose()` cancels the calls in flight or waiting for a connection; each
of them ends with `ClientClosedError`, never retried against the closed pool.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import weakref
from typing import Any

import anyio

from ._exceptions import ClientClosedError, WrongEventLoopError

__all__ = ["Lifecycle", "closed_error"]

_ADVICE = (
    "Create the client inside the event loop that uses it (for example in a FastAPI "
    "lifespan, or at the start of the function given to asyncio.run() or trio.run()), "
    "and use one client per event loop and thread"
)


def closed_error(*, during_call: bool = False) -> ClientClosedError:
    """Build the error of a call on a closed client.

    Args:
        during_call: The client was closed while the call was waiting or in flight.

    Returns:
        The error.
    """
    if during_call:
        return ClientClosedError(
            "this AsyncHiobuy client was closed (aclose()) while the call was waiting or in "
            "flight; the call was abandoned, not retried. Close the client only once every "
            "call has finished"
        )
    return ClientClosedError(
        "this AsyncHiobuy client is closed (aclose() ran, or its 'async with' block ended); "
        "keep it open for as long as it is used, or create a new one"
    )


class _Loop:
    """The identity of one event loop: an asyncio loop or a trio run, and its thread."""

    __slots__ = ("_ref", "kind", "thread")

    def __init__(self, loop: Any, kind: str) -> None:
        self._ref = weakref.ref(loop)
        self.kind = kind
        self.thread = threading.current_thread().name

    def belongs_to(self, loop: Any) -> bool:
        return self._ref() is loop

    def describe(self) -> str:
        loop = self._ref()
        gone = loop is None or (isinstance(loop, asyncio.AbstractEventLoop) and loop.is_closed())
        return f"{self.kind} in thread {self.thread!r}" + (" (now closed)" if gone else "")


def _running_loop() -> tuple[Any, str] | None:
    """The running event loop's identity (a trio token or an asyncio loop) and its kind."""
    # trio first: in trio's guest mode an asyncio loop is running too.
    trio = sys.modules.get("trio")
    if trio is not None:
        try:
            return trio.lowlevel.current_trio_token(), "a trio run"
        except RuntimeError:
            pass
    try:
        return asyncio.get_running_loop(), "an asyncio event loop"
    except RuntimeError:
        return None


class Lifecycle:
    """Tie a client to its first event loop, and end its calls when it is closed."""

    __slots__ = ("_calls", "_closed", "_drained", "_loop")

    def __init__(self) -> None:
        self._loop: _Loop | None = None
        self._closed = False
        self._calls: set[anyio.CancelScope] = set()
        self._drained: anyio.Event | None = None

    @property
    def closed(self) -> bool:
        """True once `close()` has run."""
        return self._closed

    def describe(self) -> str:
        """Say which loop the client belongs to, for its repr.

        Returns:
            The description, or `"not used yet"`.
        """
        return "not used yet" if self._loop is None else f"used on {self._loop.describe()}"

    def check_loop(self) -> None:
        """Bind the client to the running loop on first use; refuse any other loop later.

        Raises:
            WrongEventLoopError: The client belongs to another loop or thread.
        """
        running = _running_loop()
        if running is None:
            return
        loop, kind = running
        if self._loop is None:
            self._loop = _Loop(loop, kind)
            return
        if not self._loop.belongs_to(loop):
            raise WrongEventLoopError(
                f"this AsyncHiobuy client was first used on {self._loop.describe()}, and is "
                f"now used on {_Loop(loop, kind).describe()}: its connection pool belongs to "
                f"its first loop and cannot be used from another. {_ADVICE}"
            )

    def check(self) -> None:
        """Check the loop, then that the client is open.

        Raises:
            WrongEventLoopError: The client belongs to another loop or thread.
            ClientClosedError: The client is closed.
        """
        self.check_loop()
        if self._closed:
            raise closed_error()

    def start_call(self, deadline: float | None = None) -> anyio.CancelScope:
        """Check the client, and register a call: `close()` cancels its scope.

        Args:
            deadline: Seconds from now after which the scope cancels the call
                by itself, or None.

        Returns:
            The call's cancel scope, to enter around the call and pass to `end_call`.

        Raises:
            WrongEventLoopError: The client belongs to another loop or thread.
            ClientClosedError: The client is closed.
        """
        self.check()
        if deadline is None:
            scope = anyio.CancelScope()
        else:
            scope = anyio.CancelScope(deadline=anyio.current_time() + deadline)
        self._calls.add(scope)
        return scope

    def end_call(self, scope: anyio.CancelScope) -> None:
        """Forget a call registered by `start_call`.

        Args:
            scope: Its cancel scope.
        """
        self._calls.discard(scope)
        if not self._calls and self._drained is not None:
            self._drained.set()

    async def close(self) -> bool:
        """Mark the client closed, cancel its calls and wait until they have ended.

        Returns:
            True the first time, False if it was closed already.

        Raises:
            WrongEventLoopError: Called from another loop or thread than the client's.
        """
        self.check_loop()
        if self._closed:
            return False
        self._closed = True
        if self._calls:
            self._drained = anyio.Event()
            for scope in self._calls:
                scope.cancel()
            # The pool is closed only once no call is using it any more.
            await self._drained.wait()
        return True
