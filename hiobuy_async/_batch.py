# SPDX-License-Identifier: MIT
"""Fan-out: many image searches with bounded concurrency, pacing and a retry budget.

A fixed set of `concurrency` workers pulls inputs from one shared source (a
list, any iterable, or an async iterable), so memory stays flat however long
the input is. Outcomes flow to the caller through a bounded memory stream,
which also gives back-pressure: a slow consumer slows the workers.

Errors that concern one input become a `Failed` outcome. Errors that would
fail every input alike (`AuthenticationError`, an `InputError` raised while
sending), bugs (any exception that is
not a `HiobuyError`) and, with `on_error="raise"`, the first failure stop the
batch: the workers are cancelled and that one error is raised by itself,
never wrapped in an exception group. So is any other `BaseException` (a
Ctrl-C, `sys.exit()` in a progress callback), on asyncio and trio alike.
"""

from __future__ import annotations

import collections
import inspect
import sys
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
)
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import anyio
import attrs
from anyio.streams.memory import MemoryObjectReceiveStream

from ._endpoints.image_search import ImageQuery, ResolvedQuery, resolve_query
from ._exceptions import AuthenticationError, HiobuyError, InputError, QuotaExhaustedError
from ._models import ImageSearchResult
from ._ratelimit import PauseGate, RateLimiter
from ._retry import RetryBudget
from .marketplaces import Marketplace, validate_image_url

if TYPE_CHECKING:
    from ._client import AsyncHiobuy

__all__ = ["Failed", "ImageQuery", "Ok", "Outcome", "Progress", "SearchStream"]

DEDUPE_WINDOW = 128
"""Finished queries search_stream keeps for de-duplication, at most."""

DEDUPE_BUDGET = 16 * 1024 * 1024
"""Bytes (estimated) of finished results search_stream keeps for de-duplication, at most."""

DEDUPE_MAX_RESULT = 1024 * 1024
"""A finished result estimated above this many bytes is not kept for de-duplication."""

_ERROR_FOOTPRINT = 4096
"""The estimate for a kept error (its message and body excerpt are cut short)."""

Images: TypeAlias = Iterable[str | ImageQuery] | AsyncIterable[str | ImageQuery]


@attrs.frozen
class Ok:
    """A search that succeeded.

    Attributes:
        index: The input's position (from 0).
        query: The query as sent (batch defaults filled in).
        result: The search result.
    """

    index: int
    query: ImageQuery
    result: ImageSearchResult


@attrs.frozen
class Failed:
    """A search that failed for good (after any retries).

    Attributes:
        index: The input's position (from 0).
        query: The query (batch defaults filled in).
        error: Why it failed; always a `HiobuyError` (`InputError` for an
            input that was invalid and never sent).
    """

    index: int
    query: ImageQuery
    error: HiobuyError


Outcome: TypeAlias = Ok | Failed
"""What a batch yields for each input: `Ok` or `Failed`."""


@attrs.frozen
class Progress:
    """A snapshot of a batch, passed to the `progress` callback after each input.

    Attributes:
        done: Inputs finished.
        ok: Inputs that succeeded.
        failed: Inputs that failed.
        retries: Retries made so far across the batch.
        total: The number of inputs, when the input has a length.
        elapsed: Seconds since the batch started.
    """

    done: int
    ok: int
    failed: int
    retries: int
    total: int | None
    elapsed: float


@attrs.frozen
class _Defaults:
    """The batch's own arguments, validated once when they name a platform."""

    platform: Marketplace | str | None
    language: str | None
    use_platform: bool
    filters: tuple[str, ...] | None
    resolved: ResolvedQuery | None = None  # a template: every field but `img`

    @classmethod
    def build(
        cls,
        platform: Marketplace | str | None,
        language: str | None,
        use_platform: bool,
        filters: Iterable[str] | None,
    ) -> _Defaults:
        if isinstance(filters, str | bytes):
            raise InputError("filters must be a list of strings, not a single string")
        as_tuple = None if filters is None else tuple(filters)
        template = None
        if platform is not None:
            template = resolve_query(
                "https://template.invalid/",
                platform=platform,
                language=language,
                use_platform=use_platform,
                filters=as_tuple,
                stacklevel=6,
            )
        return cls(platform, language, use_platform, as_tuple, template)

    def resolve(self, item: object) -> tuple[ImageQuery, ResolvedQuery]:
        template = self.resolved
        if template is not None and isinstance(item, str):
            # The common case, a plain URL: only the URL is left to check.
            resolved = attrs.evolve(template, img=validate_image_url(item))
            query = ImageQuery(
                resolved.img,
                platform=template.marketplace,
                language=template.language,
                use_platform=template.use_platform,
                filters=template.filters,
            )
            return query, resolved
        return _resolve(_as_query(item, self))


def _as_query(item: object, defaults: _Defaults) -> ImageQuery:
    if isinstance(item, ImageQuery):
        return ImageQuery(
            img=item.img,
            platform=item.platform if item.platform is not None else defaults.platform,
            language=item.language if item.language is not None else defaults.language,
            use_platform=(
                item.use_platform if item.use_platform is not None else defaults.use_platform
            ),
            filters=item.filters if item.filters is not None else defaults.filters,
        )
    return ImageQuery(
        img=item,  # type: ignore[arg-type]  # validated by resolve_query
        platform=defaults.platform,
        language=defaults.language,
        use_platform=defaults.use_platform,
        filters=defaults.filters,
    )


def _resolve(query: ImageQuery) -> tuple[ImageQuery, ResolvedQuery]:
    resolved = resolve_query(
        query.img,
        platform=query.platform,
        language=query.language,
        use_platform=query.use_platform,
        filters=query.filters,
        stacklevel=5,
    )
    sent = attrs.evolve(
        query,
        platform=resolved.marketplace,
        language=resolved.language,
        use_platform=resolved.use_platform,
        filters=resolved.filters,
    )
    return sent, resolved


class _Source:
    """Hands out `(index, item)` pairs from a sync or async iterable, lazily."""

    def __init__(self, images: Images) -> None:
        if isinstance(images, str | bytes):
            raise InputError("images must be an iterable of URLs, not a single string")
        self._sync: Iterator[str | ImageQuery] | None = None
        self._async: AsyncIterator[str | ImageQuery] | None = None
        if isinstance(images, AsyncIterable):
            self._async = aiter(images)
        elif isinstance(images, Iterable):
            self._sync = iter(images)
        else:
            raise InputError(f"images must be an iterable, not {type(images).__name__}")
        self._lock = anyio.Lock()
        self._next_index = 0
        self._exhausted = False
        self.total: int | None = None
        if not isinstance(images, AsyncIterable):
            try:
                self.total = len(images)  # type: ignore[arg-type]
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


def _footprint(result: ImageSearchResult, limit: int) -> int | None:
    """Estimate the bytes `result` holds (each object once), or `None` above `limit`.

    The walk stops as soon as the estimate passes `limit`, so its cost is
    bounded by `limit`, not by the size of the result.
    """
    seen: set[int] = set()
    stack: list[object] = [result]
    total = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if total > limit:
            return None
        if isinstance(obj, str | bytes | int | float | Decimal) or obj is None:
            continue
        if isinstance(obj, Mapping):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, list | tuple | set | frozenset):
            stack.extend(obj)
        elif attrs.has(kind := type(obj)):
            stack.extend(getattr(obj, field.name) for field in attrs.fields(kind))
    return total


class _Finished:
    """The last finished answers, bounded in count and in estimated bytes."""

    def __init__(self, window: int | None, budget: int | None) -> None:
        self.window = window
        self.budget = budget
        self.bytes = 0
        self._answers: collections.OrderedDict[
            ResolvedQuery, tuple[ImageSearchResult | HiobuyError, int]
        ] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, query: ResolvedQuery) -> ImageSearchResult | HiobuyError | None:
        kept = self._answers.get(query)
        return None if kept is None else kept[0]

    def add(self, query: ResolvedQuery, answer: ImageSearchResult | HiobuyError) -> None:
        size = 0
        if self.budget is not None:
            if isinstance(answer, HiobuyError):
                size = _ERROR_FOOTPRINT
            else:
                estimate = _footprint(answer, min(self.budget, DEDUPE_MAX_RESULT))
                if estimate is None:
                    return  # too large to keep: a later duplicate is searched again
                size = estimate
        self._answers[query] = (answer, size)
        self.bytes += size
        while (self.window is not None and len(self._answers) > self.window) or (
            self.budget is not None and self.bytes > self.budget
        ):
            _, (_, dropped) = self._answers.popitem(last=False)
            self.bytes -= dropped


class _Pending:
    """A query in flight, which duplicates of it wait for."""

    __slots__ = ("answer", "settled")

    def __init__(self) -> None:
        self.settled = anyio.Event()
        self.answer: ImageSearchResult | HiobuyError | None = None


class _Batch:
    """The shared state of one batch: pacing, budget, dedupe, counters."""

    def __init__(
        self,
        client: AsyncHiobuy,
        source: _Source,
        sink: Callable[[Outcome], Awaitable[object]],
        *,
        defaults: _Defaults,
        rate_limit: float | None,
        on_error: Literal["collect", "raise"],
        progress: Callable[[Progress], object] | None,
        retry_budget: RetryBudget,
        dedupe_window: int | None,
        dedupe_budget: int | None,
    ) -> None:
        self.client = client
        self.source = source
        self.sink = sink
        self.defaults = defaults
        self.limiter = RateLimiter(rate_limit) if rate_limit is not None else None
        self.gate = PauseGate()
        self.budget = retry_budget
        self.on_error = on_error
        self.progress = progress
        self.dedupe_window = dedupe_window
        self.in_flight: dict[ResolvedQuery, _Pending] = {}
        self.finished = _Finished(dedupe_window, dedupe_budget)
        self.fatal: BaseException | None = None
        self.started = time.monotonic()
        self.done = self.ok = self.failed = self.retries = 0

    # RetryHooks, shared by every call of the batch.
    async def before_attempt(self) -> None:
        await self.gate.wait()
        if self.limiter is not None:
            await self.limiter.acquire()

    def allow_retry(self) -> bool:
        return self.budget.try_spend()

    def pause_all(self, seconds: float) -> None:
        self.gate.pause_for(seconds)

    def count_retry(self, _: HiobuyError) -> None:
        self.retries += 1

    async def emit(self, outcome: Outcome) -> None:
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
        )

    async def emit_shared(
        self, index: int, query: ImageQuery, answer: ImageSearchResult | HiobuyError | None
    ) -> None:
        assert answer is not None  # set before `settled`
        if isinstance(answer, HiobuyError):
            await self.emit(Failed(index, query, answer))
        else:
            await self.emit(Ok(index, query, answer))

    async def search(self, resolved: ResolvedQuery) -> ImageSearchResult | HiobuyError:
        self.budget.deposit()
        try:
            return await self.client._pipeline.call(
                resolved.request(), hooks=self, on_retry=self.count_retry
            )
        except (AuthenticationError, InputError, QuotaExhaustedError):
            # Every input would fail alike: a refused uuid, an exhausted
            # quota, or (inputs being validated already) a configuration
            # error. Stop the batch.
            raise
        except HiobuyError as error:
            return error

    async def run_one(self, index: int, item: object) -> None:
        try:
            query, resolved = self.defaults.resolve(item)
        except InputError as error:
            await self.emit(Failed(index, _as_query(item, self.defaults), error))
            return
        if self.dedupe_window == 0:
            await self.emit_shared(index, query, await self.search(resolved))
            return
        pending = self.in_flight.get(resolved)
        if pending is not None:
            # Wait here rather than pull more input: a worker holds one input
            # at a time, so duplicates cannot make the batch read ahead.
            await pending.settled.wait()
            await self.emit_shared(index, query, pending.answer)
            return
        earlier = self.finished.get(resolved)
        if earlier is not None:
            await self.emit_shared(index, query, earlier)
            return
        pending = self.in_flight[resolved] = _Pending()
        answer = await self.search(resolved)
        pending.answer = answer
        del self.in_flight[resolved]
        self.finished.add(resolved, answer)
        pending.settled.set()
        await self.emit_shared(index, query, answer)

    async def worker(self, cancel_scope: anyio.CancelScope) -> None:
        try:
            while (pulled := await self.source.next()) is not None:
                await self.run_one(*pulled)
        except anyio.get_cancelled_exc_class():
            raise
        except BaseException as error:  # noqa: BLE001 - re-raised by search_stream
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


class SearchStream:
    """Outcomes of a `search_stream()` batch, as they complete.

    Iterate with `async for`; each outcome is an `Ok` or a `Failed` carrying
    its input `index`.
    """

    def __init__(self, receive: MemoryObjectReceiveStream[Outcome], batch: _Batch) -> None:
        self._receive = receive
        self._batch = batch

    def __aiter__(self) -> SearchStream:
        return self

    async def __anext__(self) -> Outcome:
        try:
            return await self._receive.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    @property
    def progress(self) -> Progress:
        """A snapshot of the batch so far."""
        return self._batch.snapshot()


def _check_batch_arguments(
    client: AsyncHiobuy,
    *,
    concurrency: int,
    rate_limit: float | None,
    on_error: str,
) -> None:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise InputError(f"concurrency must be an integer >= 1, got {concurrency!r}")
    if concurrency > client.max_connections:
        raise InputError(
            f"concurrency {concurrency} exceeds the client's max_connections "
            f"({client.max_connections}); create the client with "
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
    client: AsyncHiobuy,
    images: Images,
    sink: Callable[[Outcome], Awaitable[object]],
    *,
    platform: Marketplace | str | None,
    language: str | None,
    use_platform: bool,
    filters: Iterable[str] | None,
    concurrency: int,
    rate_limit: float | None,
    on_error: Literal["collect", "raise"],
    progress: Callable[[Progress], object] | None,
    retry_budget: float,
    dedupe_window: int | None,
    dedupe_budget: int | None,
) -> _Batch:
    """Validate a batch's arguments (before any I/O) and set up its state."""
    _check_batch_arguments(
        client, concurrency=concurrency, rate_limit=rate_limit, on_error=on_error
    )
    return _Batch(
        client,
        _Source(images),
        sink,
        defaults=_Defaults.build(platform, language, use_platform, filters),
        rate_limit=rate_limit,
        on_error=on_error,
        progress=progress,
        retry_budget=RetryBudget(retry_budget),
        dedupe_window=dedupe_window,
        dedupe_budget=dedupe_budget,
    )


async def _run_workers(
    batch: _Batch, concurrency: int, cancel_scope: anyio.CancelScope | None = None
) -> None:
    async with anyio.create_task_group() as workers:
        for _ in range(concurrency):
            workers.start_soon(batch.worker, cancel_scope or workers.cancel_scope)


@asynccontextmanager
async def search_stream(
    client: AsyncHiobuy,
    images: Images,
    *,
    concurrency: int,
    dedupe_window: int | None = DEDUPE_WINDOW,
    dedupe_budget: int | None = DEDUPE_BUDGET,
    **options: Any,
) -> AsyncIterator[SearchStream]:
    """Run a batch; see `AsyncHiobuy.search_stream` for the arguments.

    Yields:
        The stream of outcomes.

    Raises:
        InputError: Invalid batch arguments.
        AuthenticationError: The uuid was refused.
        HiobuyError: With `on_error="raise"`, the first failure.
    """
    send, receive = anyio.create_memory_object_stream[Outcome](max_buffer_size=concurrency)
    with send, receive:
        batch = _prepare(
            client,
            images,
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
                    yield SearchStream(receive, batch)
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


async def search_many(
    client: AsyncHiobuy,
    images: Images,
    *,
    concurrency: int,
    **options: Any,
) -> list[Outcome]:
    """Run a batch and return its outcomes in input order.

    Workers append straight to the result list: no stream in between.

    Args:
        client: The client.
        images: The inputs.
        concurrency: The number of workers.
        **options: As for `search_stream`.

    Returns:
        One outcome per input, sorted by index.

    Raises:
        BaseException: The error that stopped the batch (see `search_stream`).
    """
    outcomes: list[Outcome] = []

    async def collect(outcome: Outcome) -> None:
        outcomes.append(outcome)

    batch = _prepare(
        client,
        images,
        collect,
        concurrency=concurrency,
        dedupe_window=None,
        dedupe_budget=None,
        **options,
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


def _index(outcome: Outcome) -> int:
    return outcome.index
