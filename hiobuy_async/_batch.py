# SPDX-License-Identifier: MIT
"""Fan-out: many calls with bounded concurrency, pacing, dedupe and a retry budget.

The engine knows nothing of endpoints or of the client. A `Fanout` tells it
how to turn one input into `(query, key)` (`resolve`; an `InputError` makes
that input a `Failed` without a call), what to call for a key (`call`, which
receives the batch's `RetryHooks`, a retry counter and a body hook to pass
on to the pipeline), and the concurrency bound. `search_many()` and
`details_many()` are two `Fanout`s over the same engine.

A fixed set of `concurrency` workers pulls inputs from one shared source (a
list, any iterable, or an async iterable), so memory stays flat however long
the input is. Outcomes flow to the caller through a bounded memory stream,
which also gives back-pressure: a slow consumer slows the workers.

Errors that concern one input become a `Failed` outcome. Errors that would
fail every input alike (`AuthenticationError`, an `InputError` raised while
calling, a `ClientStateError`: the client closed or on another loop, a
`QuotaExhaustedError`), bugs (any exception that is not a `HiobuyError`) and,
with `on_error="raise"`, the first failure stop the batch: the workers are
cancelled and that one error is raised by itself, never wrapped in an
exception group. So is any other `BaseException` (a Ctrl-C, `sys.exit()` in
a progress callback), on asyncio and trio alike.
"""

from __future__ import annotations

import collections
import inspect
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Hashable, Iterable
from collections.abc import Iterator as SyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType
from typing import Any, Generic, Literal, TypeAlias, TypeVar

import anyio
import attrs
from anyio.streams.memory import MemoryObjectReceiveStream

from ._exceptions import (
    AuthenticationError,
    ClientStateError,
    HiobuyError,
    InputError,
    QuotaExhaustedError,
)
from ._outcomes import Failed, Ok, Outcome, Progress
from ._ratelimit import Pacer, PauseGate
from ._retry import RetryBudget, RetryHooks
from ._tracing import telemetry

__all__ = [
    "DEDUPE_BUDGET",
    "DEDUPE_MAX_RESULT",
    "DEDUPE_WINDOW",
    "BatchContext",
    "BatchStream",
    "Failed",
    "Fanout",
    "Ok",
    "Outcome",
    "Progress",
    "many",
    "stream",
]

Q = TypeVar("Q")  # the query an outcome carries
F = TypeVar("F")  # what a Failed carries for an input that could not be resolved
K = TypeVar("K", bound=Hashable)  # what the call receives; equal keys are one call
R = TypeVar("R")  # the call's result
O_co = TypeVar("O_co", bound="Ok[Any, Any] | Failed[Any]", covariant=True)

DEDUPE_WINDOW = 128
"""Finished queries a stream keeps for de-duplication, at most."""

DEDUPE_BUDGET = 16 * 1024 * 1024
"""Bytes (estimated) of finished results a stream keeps for de-duplication, at most."""

DEDUPE_MAX_RESULT = 1024 * 1024
"""A finished result estimated above this many bytes is not kept for de-duplication."""

_ERROR_FOOTPRINT = 4096
"""The estimate for a kept error (its message and body excerpt are cut short)."""

_UNMEASURED = 4096
"""The estimate for a result whose call reported no body."""

_FOOTPRINT_BASE = 8192
"""What any parsed answer holds whatever its body (its model objects, a few dicts)."""

_EXPANSION = 5
"""Bytes of parsed objects per body byte, with a margin over the 2.9x to 4.3x measured."""

OnRetry: TypeAlias = Callable[[HiobuyError], None]
OnBody: TypeAlias = Callable[[bytes], None]
Call: TypeAlias = Callable[[K, RetryHooks, OnRetry, OnBody], Awaitable[R]]
"""`call(key, hooks, on_retry, on_body)`: one call, e.g. through the pipeline.

`hooks` and `on_retry` are the batch's pacing/budget hooks and retry counter;
`on_body`, when the call is answered from a JSON body, is given that body
(the pipeline passes each response's) so the batch can size the result it
keeps for de-duplication. A call that never reports counts as 4 KiB.
"""


@attrs.frozen
class Fanout(Generic[Q, F, K, R]):
    """What a batch fans out: how inputs become calls, and the concurrency bound.

    Attributes:
        resolve: Turns one input into `(query, key)`: the query the outcome
            carries and the key the call receives (equal keys are sent once).
            Raises `InputError` for an invalid input, which becomes a `Failed`.
        unresolved: The query a `Failed` carries for an input `resolve` refused.
        call: Makes the call for a key (see `Call`).
        max_concurrency: The most workers a batch may run (the pool's size).
        what: The inputs' name, for error messages (`"images"`, `"products"`).
        check: Looks at each input before `resolve`, for a mistake of the
            batch's own arguments that every such input would share (a search
            batch without a platform): the `InputError` it raises stops the batch.
    """

    resolve: Callable[[object], tuple[Q, K]]
    unresolved: Callable[[object], F]
    call: Call[K, R]
    max_concurrency: int
    what: str = "inputs"
    check: Callable[[object], None] | None = None


def _footprint(body: bytes) -> int:
    """Estimate, in O(1), the bytes the objects parsed from a JSON `body` hold.

    A base for the model objects any answer has, plus `_EXPANSION` bytes per
    body byte: measured on image search (20 to 1,500 items: 2.9x to 4.3x) and
    product details answers (a 1.4 KB body holds ~11 KB, most of it the
    base), so an answer of the API's shape is never under-counted. A body
    made of nothing but tiny containers (`[{}, {}, ...]`) holds more per
    byte; `DEDUPE_MAX_RESULT` and the client's `max_response_bytes` bound
    what such an answer can cost.
    """
    return _FOOTPRINT_BASE + _EXPANSION * len(body)


class _Source:
    """Hands out `(index, item)` pairs from a sync or async iterable, lazily."""

    def __init__(self, items: Iterable[object] | AsyncIterable[object], what: str) -> None:
        if isinstance(items, str | bytes):
            raise InputError(f"{what} must be an iterable, not a single string")
        self._sync: SyncIterator[object] | None = None
        self._async: AsyncIterator[object] | None = None
        if isinstance(items, AsyncIterable):
            self._async = aiter(items)
        elif isinstance(items, Iterable):
            self._sync = iter(items)
        else:
            raise InputError(f"{what} must be an iterable, not {type(items).__name__}")
        self._lock = anyio.Lock()
        self._next_index = 0
        self._exhausted = False
        self.total: int | None = None
        if not isinstance(items, AsyncIterable):
            try:
                self.total = len(items)  # type: ignore[arg-type]
            except TypeError:
                self.total = None

    async def next(self) -> tuple[int, object] | None:
        if self._exhausted:
            return None
        if self._sync is not None:
            item = next(self._sync, _END)
        else:
            assert self._async is not None
            # An async generator cannot be advanced by two tasks at once.
            async with self._lock:
                if self._exhausted:
                    return None
                item = await anext(self._async, _END)
        if item is _END:
            self._exhausted = True
            return None
        index = self._next_index
        self._next_index += 1
        return index, item


_END = object()


class _Finished(Generic[K, R]):
    """The last finished answers, bounded in count and in estimated bytes."""

    def __init__(self, window: int | None, budget: int | None) -> None:
        self.window = window
        self.budget = budget
        self.bytes = 0
        self._answers: collections.OrderedDict[K, tuple[R | HiobuyError, int]] = (
            collections.OrderedDict()
        )

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, key: K) -> R | HiobuyError | None:
        kept = self._answers.get(key)
        return None if kept is None else kept[0]

    def add(self, key: K, answer: R | HiobuyError, body: bytes | None) -> None:
        """Keep `answer` (parsed from `body`, when the call reported it)."""
        size = 0
        if self.budget is not None:
            if isinstance(answer, HiobuyError):
                size = _ERROR_FOOTPRINT
            else:
                size = _UNMEASURED if body is None else _footprint(body)
                if size > min(self.budget, DEDUPE_MAX_RESULT):
                    return  # too large to keep: a later duplicate is called again
        self._answers[key] = (answer, size)
        self.bytes += size
        while (self.window is not None and len(self._answers) > self.window) or (
            self.budget is not None and self.bytes > self.budget
        ):
            _, (_, dropped) = self._answers.popitem(last=False)
            self.bytes -= dropped


class _Pending(Generic[R]):
    """A key in flight, which duplicates of it wait for.

    Its event is made by the first duplicate that waits: most keys have none.
    """

    __slots__ = ("_settled", "answer")

    def __init__(self) -> None:
        self._settled: anyio.Event | None = None
        self.answer: R | HiobuyError | None = None

    async def wait(self) -> R | HiobuyError | None:
        """Wait until the call settles; return its answer."""
        if self._settled is None:
            self._settled = anyio.Event()
        await self._settled.wait()
        return self.answer

    def settle(self, answer: R | HiobuyError) -> None:
        """Record the answer and wake every duplicate waiting for it."""
        self.answer = answer
        if self._settled is not None:
            self._settled.set()


class _Batch(Generic[Q, F, K, R]):
    """The shared state of one batch: pacing, budget, dedupe, counters."""

    def __init__(
        self,
        fanout: Fanout[Q, F, K, R],
        source: _Source,
        sink: Callable[[Ok[Q, R] | Failed[Q | F]], Awaitable[object]],
        *,
        rate_limit: float | None,
        on_error: Literal["collect", "raise"],
        progress: Callable[[Progress], object] | None,
        retry_budget: RetryBudget,
        dedupe_window: int | None,
        dedupe_budget: int | None,
    ) -> None:
        self.fanout = fanout
        self.source = source
        self.sink = sink
        self.limiter = Pacer(rate_limit) if rate_limit is not None else None
        self.gate = PauseGate()
        self.budget = retry_budget
        self.on_error = on_error
        self.progress = progress
        self.dedupe_window = dedupe_window
        self.in_flight: dict[K, _Pending[R]] = {}
        self.finished: _Finished[K, R] = _Finished(dedupe_window, dedupe_budget)
        self.fatal: BaseException | None = None
        self.started = time.monotonic()
        self.done = self.ok = self.failed = self.retries = 0
        self.cache_hits = 0

    # RetryHooks, shared by every call of the batch.
    async def before_attempt(self, inner: Callable[[], Awaitable[None]] | None = None) -> None:
        # The batch's slot is taken when `inner` (the client's quota) lets the
        # request go, so the batch's cap holds at the server.
        await self.gate.wait()
        if self.limiter is not None:
            await self.limiter.acquire(inner)
        elif inner is not None:
            await inner()

    def allow_retry(self) -> bool:
        return self.budget.try_spend()

    def pause_all(self, seconds: float) -> None:
        self.gate.pause_for(seconds)

    def count_retry(self, _: HiobuyError) -> None:
        self.retries += 1

    async def emit(self, outcome: Ok[Q, R] | Failed[Q | F]) -> None:
        if isinstance(outcome, Failed) and self.on_error == "raise":
            raise outcome.error
        await self.sink(outcome)
        self.done += 1
        if isinstance(outcome, Ok):
            self.ok += 1
        else:
            self.failed += 1
        if self.progress is not None:
            returned = self.progress(self.snapshot())
            if inspect.isawaitable(returned):
                # An `async def` callback runs inline too, like a sync one.
                await returned

    def snapshot(self) -> Progress:
        return Progress(
            done=self.done,
            ok=self.ok,
            failed=self.failed,
            retries=self.retries,
            total=self.source.total,
            elapsed=time.monotonic() - self.started,
            cache_hits=self.cache_hits,
        )

    async def emit_shared(self, index: int, query: Q, answer: R | HiobuyError | None) -> None:
        assert answer is not None  # set before `settled`
        if isinstance(answer, HiobuyError):
            await self.emit(Failed(index, query, answer))
        else:
            await self.emit(Ok(index, query, answer))

    async def call(self, key: K) -> tuple[R | HiobuyError, bytes | None]:
        """Make one call; return its answer and the body it was parsed from."""
        self.budget.deposit()
        body: bytes | None = None

        def on_body(received: bytes) -> None:
            nonlocal body
            body = received

        try:
            result = await self.fanout.call(key, self, self.count_retry, on_body)
        except (AuthenticationError, InputError, QuotaExhaustedError, ClientStateError):
            # Every input would fail alike: a refused uuid, an exhausted
            # quota, a closed client or one on another loop, or (inputs being
            # validated already) a configuration error. Stop the batch.
            body = None  # a traceback keeps this frame: no body (it may echo the uuid)
            raise
        except HiobuyError as error:
            body = None
            return error, None
        if getattr(result, "from_cache", False):
            self.cache_hits += 1
        return result, body

    async def run_one(self, index: int, item: object) -> None:
        if self.fanout.check is not None:
            self.fanout.check(item)  # a batch-wide mistake: stops the batch
        try:
            query, key = self.fanout.resolve(item)
        except InputError as error:
            await self.emit(Failed(index, self.fanout.unresolved(item), error))
            return
        if self.dedupe_window == 0:
            answer, _ = await self.call(key)
            await self.emit_shared(index, query, answer)
            return
        pending = self.in_flight.get(key)
        if pending is not None:
            # Wait here rather than pull more input: a worker holds one input
            # at a time, so duplicates cannot make the batch read ahead.
            await self.emit_shared(index, query, await pending.wait())
            return
        earlier = self.finished.get(key)
        if earlier is not None:
            await self.emit_shared(index, query, earlier)
            return
        pending = self.in_flight[key] = _Pending()
        answer, body = await self.call(key)
        del self.in_flight[key]
        self.finished.add(key, answer, body)
        del body
        pending.settle(answer)
        await self.emit_shared(index, query, answer)

    async def worker(self, cancel_scope: anyio.CancelScope) -> None:
        try:
            while (pulled := await self.source.next()) is not None:
                await self.run_one(*pulled)
        except anyio.get_cancelled_exc_class():
            raise
        except BaseException as error:  # noqa: BLE001 - re-raised by the batch
            # Stop the batch and let the caller see this one error, not a
            # group; a Ctrl-C or sys.exit() outranks an error already kept.
            self.fatal = _first(self.fatal, error)
            cancel_scope.cancel()


def _leaves(error: BaseException) -> list[BaseException]:
    # Exception groups (built in from Python 3.11, a backport on 3.10) are
    # recognised by shape, so both kinds are flattened.
    children = getattr(error, "exceptions", None)
    if (
        isinstance(children, tuple)
        and children
        and all(isinstance(child, BaseException) for child in children)
    ):
        return [leaf for child in children for leaf in _leaves(child)]
    return [error]


def _rank(error: BaseException) -> int:
    """Which error wins when several stop a batch: lower ranks first."""
    if isinstance(error, KeyboardInterrupt):
        return 0
    if isinstance(error, SystemExit):
        return 1
    if not isinstance(error, Exception):
        return 2  # GeneratorExit or the caller's own BaseException
    return 3


def _first(kept: BaseException | None, new: BaseException | None) -> BaseException | None:
    """The error to raise of `kept` (the earlier one) and `new`."""
    if kept is None:
        return new
    if new is None or _rank(kept) <= _rank(new):
        return kept
    return new


def _alone(error: BaseException) -> BaseException:
    """The one error of a task group's exception group, or `error` itself.

    Cancellations are left as they are (the backend handles them); anything
    else comes out by itself, Ctrl-C and `sys.exit()` first.
    """
    cancelled = anyio.get_cancelled_exc_class()
    leaves = [leaf for leaf in _leaves(error) if not isinstance(leaf, cancelled)]
    best: BaseException | None = None
    for leaf in leaves:
        best = _first(best, leaf)
    return error if best is None else best


class BatchStream(Generic[O_co]):
    """Outcomes of a streaming batch (`search_stream()`, `details_stream()`), as they complete.

    Iterate with `async for`; each outcome is an `Ok` or a `Failed` carrying
    its input `index`.
    """

    def __init__(self, receive: MemoryObjectReceiveStream[O_co], batch: _Batch[Any, Any, Any, Any]):
        self._receive = receive
        self._batch = batch

    def __aiter__(self) -> BatchStream[O_co]:
        return self

    async def __anext__(self) -> O_co:
        try:
            return await self._receive.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    @property
    def progress(self) -> Progress:
        """A snapshot of the batch so far."""
        return self._batch.snapshot()


class BatchContext(AbstractAsyncContextManager[BatchStream[O_co]], Generic[O_co]):
    """What a `*_stream()` method returns: `async with` it to run the batch.

    Nothing starts (not even argument checks) until the block is entered.
    Iterating it without `async with`, or a plain `with`, is a `TypeError`
    that says how to use it.
    """

    def __init__(
        self, start: Callable[[], AbstractAsyncContextManager[BatchStream[O_co]]], method: str
    ):
        self._start = start
        self._method = method
        self._running: AbstractAsyncContextManager[BatchStream[O_co]] | None = None

    def _misuse(self, what: str) -> TypeError:
        return TypeError(
            f"{what} {self._method}(...) needs 'async with': write "
            f"'async with client.{self._method}(...) as stream:' and then "
            f"'async for outcome in stream:'"
        )

    def __aiter__(self) -> AsyncIterator[O_co]:
        raise self._misuse("'async for' over")

    def __enter__(self) -> None:
        raise self._misuse("a plain 'with' on")

    def __exit__(self, *exc_info: object) -> None:  # pragma: no cover - __enter__ raises
        return None

    async def __aenter__(self) -> BatchStream[O_co]:
        if self._running is not None:
            raise RuntimeError(f"a {self._method}(...) context can be entered only once")
        self._running = self._start()
        return await self._running.__aenter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._running is not None
        return await self._running.__aexit__(exc_type, exc, tb)


def _check_batch_arguments(
    max_concurrency: int,
    *,
    concurrency: int,
    rate_limit: float | None,
    on_error: str,
) -> None:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise InputError(f"concurrency must be an integer >= 1, got {concurrency!r}")
    if concurrency > max_concurrency:
        raise InputError(
            f"concurrency {concurrency} exceeds the client's max_connections "
            f"({max_concurrency}); create the client with "
            f"AsyncHiobuy(max_connections={concurrency}) or lower the concurrency"
        )
    if rate_limit is not None and (
        isinstance(rate_limit, bool)
        or not isinstance(rate_limit, int | float)
        or not rate_limit > 0
    ):
        raise InputError(f"rate_limit must be a positive number or None, got {rate_limit!r}")
    if on_error not in ("collect", "raise"):
        raise InputError(f"on_error must be 'collect' or 'raise', got {on_error!r}")


def _prepare(
    fanout: Fanout[Q, F, K, R],
    items: Iterable[object] | AsyncIterable[object],
    sink: Callable[[Ok[Q, R] | Failed[Q | F]], Awaitable[object]],
    *,
    concurrency: int,
    rate_limit: float | None,
    on_error: Literal["collect", "raise"],
    progress: Callable[[Progress], object] | None,
    retry_budget: float,
    dedupe_window: int | None,
    dedupe_budget: int | None,
) -> _Batch[Q, F, K, R]:
    """Validate a batch's arguments (before any I/O) and set up its state."""
    _check_batch_arguments(
        fanout.max_concurrency, concurrency=concurrency, rate_limit=rate_limit, on_error=on_error
    )
    return _Batch(
        fanout,
        _Source(items, fanout.what),
        sink,
        rate_limit=rate_limit,
        on_error=on_error,
        progress=progress,
        retry_budget=RetryBudget(retry_budget),
        dedupe_window=dedupe_window,
        dedupe_budget=dedupe_budget,
    )


async def _run_workers(
    batch: _Batch[Any, Any, Any, Any],
    concurrency: int,
    cancel_scope: anyio.CancelScope | None = None,
) -> None:
    tel = telemetry()
    if tel is None:
        async with anyio.create_task_group() as workers:
            for _ in range(concurrency):
                workers.start_soon(batch.worker, cancel_scope or workers.cancel_scope)
        return
    # One span for the batch, current while the workers start: each item's
    # call span is its child, and ends with the item (none is kept open).
    with tel.batch_span(batch.fanout.what) as span:
        error: str | None = None
        try:
            async with anyio.create_task_group() as workers:
                for _ in range(concurrency):
                    workers.start_soon(batch.worker, cancel_scope or workers.cancel_scope)
        except BaseException as exc:
            error = type(_alone(exc)).__name__
            raise
        finally:
            tel.end_batch(
                span,
                inputs=batch.done,
                ok=batch.ok,
                failed=batch.failed,
                retries=batch.retries,
                error=error,
                cache_hits=batch.cache_hits,
            )


def stream(
    fanout: Callable[[], Fanout[Q, F, K, R]],
    items: Iterable[object] | AsyncIterable[object],
    *,
    method: str,
    concurrency: int,
    rate_limit: float | None = None,
    on_error: Literal["collect", "raise"] = "collect",
    progress: Callable[[Progress], object] | None = None,
    retry_budget: float = 0.2,
    dedupe_window: int | None = DEDUPE_WINDOW,
    dedupe_budget: int | None = DEDUPE_BUDGET,
) -> BatchContext[Ok[Q, R] | Failed[Q | F]]:
    """Set up a streaming batch, run when its context is entered.

    Args:
        fanout: Builds the fan-out (and validates the batch's defaults) on entry.
        items: The inputs.
        method: The client method's name, for the misuse message.
        concurrency: The number of workers.
        rate_limit: Calls started per second, or `None`.
        on_error: `"collect"` or `"raise"`.
        progress: Called with a `Progress` snapshot after each input.
        retry_budget: Retries allowed, as a fraction of first attempts.
        dedupe_window: Finished keys kept for de-duplication, at most.
        dedupe_budget: Estimated bytes of finished results kept, at most.

    Returns:
        The context manager; its value is the stream of outcomes.
    """

    def start() -> AbstractAsyncContextManager[BatchStream[Ok[Q, R] | Failed[Q | F]]]:
        return _streaming(
            fanout(),
            items,
            concurrency=concurrency,
            rate_limit=rate_limit,
            on_error=on_error,
            progress=progress,
            retry_budget=retry_budget,
            dedupe_window=dedupe_window,
            dedupe_budget=dedupe_budget,
        )

    return BatchContext(start, method)


@asynccontextmanager
async def _streaming(
    fanout: Fanout[Q, F, K, R],
    items: Iterable[object] | AsyncIterable[object],
    *,
    concurrency: int,
    dedupe_window: int | None,
    dedupe_budget: int | None,
    **options: Any,
) -> AsyncIterator[BatchStream[Ok[Q, R] | Failed[Q | F]]]:
    """Run a batch while the caller iterates; errors as `AsyncHiobuy.search_stream` says."""
    send, receive = anyio.create_memory_object_stream[Ok[Q, R] | Failed[Q | F]](
        max_buffer_size=concurrency
    )
    with send, receive:
        batch = _prepare(
            fanout,
            items,
            send.send,
            concurrency=concurrency,
            dedupe_window=dedupe_window,
            dedupe_budget=dedupe_budget,
            **options,
        )

        async def produce(cancel_scope: anyio.CancelScope) -> None:
            async with send:
                await _run_workers(batch, concurrency, cancel_scope)

        body_error: BaseException | None = None
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(produce, group.cancel_scope)
                try:
                    yield BatchStream(receive, batch)
                except anyio.get_cancelled_exc_class():
                    raise
                except BaseException as error:  # noqa: BLE001 - re-raised below
                    # Re-raised once the workers are gone, so that the caller's
                    # own error is not wrapped in an exception group.
                    body_error = error
                finally:
                    group.cancel_scope.cancel()
        except BaseException as error:
            body_error = _first(body_error, _alone(error))
            if body_error is error:
                raise
    failure = _first(body_error, batch.fatal)
    if failure is not None:
        raise failure


async def many(
    fanout: Fanout[Q, F, K, R],
    items: Iterable[object] | AsyncIterable[object],
    *,
    concurrency: int,
    rate_limit: float | None = None,
    on_error: Literal["collect", "raise"] = "collect",
    progress: Callable[[Progress], object] | None = None,
    retry_budget: float = 0.2,
) -> list[Ok[Q, R] | Failed[Q | F]]:
    """Run a batch and return its outcomes in input order.

    Workers append straight to the result list: no stream in between, and
    every duplicate key is called once (nothing finished is forgotten).

    Args:
        fanout: The fan-out.
        items: The inputs.
        concurrency: The number of workers.
        rate_limit: Calls started per second, or `None`.
        on_error: `"collect"` or `"raise"`.
        progress: Called with a `Progress` snapshot after each input.
        retry_budget: Retries allowed, as a fraction of first attempts.

    Returns:
        One outcome per input, sorted by index.

    Raises:
        BaseException: The error that stopped the batch (see `stream`).
    """
    outcomes: list[Ok[Q, R] | Failed[Q | F]] = []

    async def collect(outcome: Ok[Q, R] | Failed[Q | F]) -> None:
        outcomes.append(outcome)

    batch = _prepare(
        fanout,
        items,
        collect,
        concurrency=concurrency,
        rate_limit=rate_limit,
        on_error=on_error,
        progress=progress,
        retry_budget=retry_budget,
        dedupe_window=None,
        dedupe_budget=None,
    )
    failure: BaseException | None = None
    try:
        await _run_workers(batch, concurrency)
    except BaseException as error:
        failure = _alone(error)
        if failure is error:
            raise
    failure = _first(failure, batch.fatal)
    if failure is not None:
        raise failure
    outcomes.sort(key=_index)
    return outcomes


def _index(outcome: Ok[Any, Any] | Failed[Any]) -> int:
    return outcome.index
