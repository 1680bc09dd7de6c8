# SPDX-License-Identifier: MIT
"""What each sub-command does, as async functions returning an exit code."""

from __future__ import annotations

import argparse
import ipaddress
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, closing, contextmanager, suppress
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio
import attrs

from .._batch import Failed, Ok, Outcome
from .._client import AsyncHiobuy
from .._config import check_language
from .._exceptions import APIConnectionError, ClientStateError, HiobuyError, InputError
from .._pager import PagePosition
from ..cache import SQLiteCache
from ..marketplaces import DEFAULT_LOCALE, Marketplace, validate_locale, validate_marketplace
from ._args import SORTS, CliError, ExitCode
from ._jsonl import (
    JsonlWriter,
    details_dict,
    details_record,
    dumps,
    needs_ascii,
    open_output,
    product_dict,
    result_dict,
    retryable,
    search_record,
)
from ._orders import create_order, preview_order
from ._render import BatchRow, Renderer, summary_line
from ._runs import (
    OK,
    RETRYABLE,
    InputFile,
    OutputIndex,
    check_resumable,
    index_output,
    parse_inputs,
    read_inputs,
    read_run,
    repair_output,
    run_header,
    write_run,
)
from ._setup import Streams, _check_credentials, _make_fake

if TYPE_CHECKING:
    from ..testing import FakeHiobuy

__all__ = ["Streams", "run_command"]

DEMO_PLATFORM = "1688"
DEMO_LANGUAGE = "en_US"
DEMO_TABLE_ROWS = 10
UNREACHABLE_AFTER = 3
"""Connection failures, with no success yet, after which a batch gives up."""


@attrs.frozen
class _QueryOptions:
    platform: Marketplace | None
    language: str | None
    use_platform: bool
    filters: tuple[str, ...] | None

    def header(self) -> dict[str, Any]:
        """The options that change results, as an output's header records them."""
        return {
            "platform": None if self.platform is None else self.platform.value,
            "language": self.language or DEFAULT_LOCALE,
            "use_platform": self.use_platform,
            "filters": None if self.filters is None else sorted(self.filters),
        }


def _query_options(args: argparse.Namespace, *, platform_required: bool = True) -> _QueryOptions:
    """Check platform and locale before anything is opened or sent."""
    platform = args.platform or (DEMO_PLATFORM if args.demo and platform_required else None)
    language = args.language or (DEMO_LANGUAGE if args.demo else None)
    if platform is None:
        if platform_required:
            raise CliError("--platform is required: taobao or 1688")
        # Inferred per product from its URL: the locale is checked against
        # every marketplace now, against the product's own when it is known.
        return _QueryOptions(None, check_language(language), args.use_platform, None)
    marketplace = validate_marketplace(platform)
    validate_locale(marketplace, language)
    if args.use_platform and marketplace is not Marketplace.ALIBABA_1688:
        raise CliError("--use-platform is supported on 1688 only")
    if args.filters and marketplace is not Marketplace.ALIBABA_1688:
        raise CliError("--filter is supported on 1688 only")
    return _QueryOptions(
        platform=marketplace,
        language=language,
        use_platform=args.use_platform,
        filters=tuple(args.filters) if args.filters else None,
    )


@attrs.frozen
class _Pacing:
    """Client-wide pacing: `--rate-limit`, shared through Redis with `--redis-quota`."""

    rate_limit: float | None = None
    redis_url: str | None = None
    quota_key: str | None = None


REDIS_QUOTA_URL = "HIOBUY_REDIS_QUOTA_URL"
"""The environment variable that may hold `--redis-quota`'s URL (out of sight of `ps`)."""
_REDIS_URL_FORM = "redis://[:PASSWORD@]HOST[:PORT][/DB], rediss://... or unix:///PATH"


def _check_redis_url(url: str) -> None:
    """Refuse a URL coredis cannot use, as a usage error that never shows the URL (its password)."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a port that is not a number
        if parts.scheme in ("redis", "rediss"):
            db = parts.path.strip("/")
            usable = (
                bool(parts.hostname) and (port is None or port > 0) and (not db or db.isdigit())
            )
        else:
            usable = parts.scheme == "unix" and bool(parts.path)
    except ValueError:
        usable = False
    if not usable:
        raise CliError(f"--redis-quota: not a Redis URL; expected {_REDIS_URL_FORM}")


def _pacing(args: argparse.Namespace) -> _Pacing:
    """Check the pacing options together, before anything is opened."""
    rate_limit = getattr(args, "rate_limit", None)
    redis_url = getattr(args, "redis_quota", None)
    key = getattr(args, "quota_key", None)
    if redis_url is None and key is not None:
        # Only a run that shares a quota reads the variable.
        redis_url = os.environ.get(REDIS_QUOTA_URL) or None
    if redis_url is not None:
        if rate_limit is None:
            raise CliError("--redis-quota needs --rate-limit R: the rate all processes share")
        if not key:
            raise CliError("--redis-quota needs --quota-key K: the same name in every process")
        _check_redis_url(redis_url)
    elif key is not None:
        raise CliError(
            f"--quota-key names a quota shared through a Redis server: add --redis-quota URL, "
            f"or set {REDIS_QUOTA_URL}"
        )
    return _Pacing(rate_limit, redis_url, key)


def _redis_quota(pacing: _Pacing) -> Any:
    from ..quota import RedisQuota  # noqa: PLC0415 - the redis extra is optional

    assert pacing.redis_url is not None
    assert pacing.quota_key is not None
    assert pacing.rate_limit is not None
    try:
        return RedisQuota(pacing.redis_url, key=pacing.quota_key, rate=pacing.rate_limit)
    except ImportError:
        raise CliError("--redis-quota needs coredis: pip install 'hiobuy-async[redis]'") from None


def _new_client(
    uuid: str | None, *, quota: Any, rate_limit: float | None, **options: Any
) -> AsyncHiobuy:
    """Build the client, paced client-wide by `quota` (shared) or `rate_limit`."""
    if quota is not None:
        return AsyncHiobuy(uuid, quota=quota, **options)
    return AsyncHiobuy(uuid, rate_limit=rate_limit, **options)


@asynccontextmanager
async def _open_client(
    args: argparse.Namespace,
    fake: FakeHiobuy | None,
    *,
    max_connections: int = 32,
    pacing: _Pacing | None = None,
) -> AsyncIterator[AsyncHiobuy]:
    """Make the client: for the real API, or for the embedded fake server (`--demo`)."""
    pacing = _Pacing() if pacing is None else pacing
    options: dict[str, Any] = {
        "timeout": args.timeout,
        "max_retries": args.max_retries,
        "max_connections": max_connections,
        "rate_limit": pacing.rate_limit,
    }
    uuid = _check_credentials(args)
    async with AsyncExitStack() as stack:
        path = getattr(args, "cache", None)
        if path is not None:
            options["cache"] = await stack.enter_async_context(SQLiteCache(path))
        quota = None
        if pacing.redis_url is not None:
            # Entered in this task, the one that runs the client, as RedisQuota needs.
            try:
                quota = await stack.enter_async_context(_redis_quota(pacing))
            except ValueError:
                # A URL coredis cannot read after all: its text may hold the password.
                raise CliError(
                    f"--redis-quota: not a usable Redis URL; expected {_REDIS_URL_FORM}"
                ) from None
        if fake is not None:
            base_url = await stack.enter_async_context(fake.serve())
            client = _new_client(fake.DEFAULT_UUID, base_url=base_url, quota=quota, **options)
        else:
            client = _new_client(
                uuid,
                base_url=args.base_url,
                allow_insecure_http=args.allow_insecure_http,
                quota=quota,
                **options,
            )
        yield await stack.enter_async_context(client)


def _unreachable(client: AsyncHiobuy, error: APIConnectionError) -> CliError:
    return CliError(f"cannot reach the server at {client.base_url}: {error}", ExitCode.CONNECTION)


async def image_search(args: argparse.Namespace, streams: Streams, renderer: Renderer) -> int:
    """Run `image-search`: one image, a table or JSON.

    Args:
        args: The parsed command line.
        streams: The standard streams.
        renderer: The terminal output.

    Returns:
        The exit code.
    """
    options = _query_options(args)
    assert options.platform is not None
    _check_credentials(args)
    fake = _make_fake() if args.demo else None
    img = args.img
    if img is None:
        if fake is None:
            raise CliError("an image URL is required (or use --demo for a sample image)")
        img = fake.sample_images()[0]
    async with _open_client(args, fake) as client:
        try:
            result = await client.image_search(
                img,
                platform=options.platform,
                language=options.language,
                use_platform=options.use_platform,
                filters=options.filters,
            )
        except APIConnectionError as error:
            raise _unreachable(client, error) from None
    if args.json:
        data = result_dict(
            result, img=img, platform=options.platform.value, language=options.language
        )
        text = dumps(data, indent=2, ascii_only=needs_ascii(streams.stdout))
        print(text, file=streams.stdout, flush=True)
    else:
        renderer.products(
            result.items,
            title=f"{len(result.items)} products on {options.platform.value} for {img}",
        )
    return ExitCode.OK


async def keyword_search(args: argparse.Namespace, streams: Streams, renderer: Renderer) -> int:
    """Run `keyword-search`: pages of a keyword search, a table or JSON lines.

    Args:
        args: The parsed command line.
        streams: The standard streams.
        renderer: The terminal output.

    Returns:
        The exit code.
    """
    options = _query_options(args)
    assert options.platform is not None
    _check_credentials(args)
    fake = _make_fake() if args.demo else None
    page, offset = args.start
    max_pages = args.pages if args.pages is not None or args.max_items is not None else 1
    shown: list[Any] = []
    writer = JsonlWriter(streams.stdout) if args.json else None
    async with _open_client(args, fake) as client:
        pager = client.keyword_search_pages(
            args.keyword,
            platform=options.platform,
            language=options.language,
            page_size=args.page_size,
            sort=SORTS.get(args.sort, args.sort),
            price_min=args.price_min,
            price_max=args.price_max,
            use_platform=options.use_platform,
            filters=options.filters,
            start=PagePosition(page, offset),
            max_pages=max_pages,
            max_items=args.max_items,
        )
        try:
            async for result in pager:
                for product in result.items:
                    if writer is not None:
                        writer.write({"page": result.page, **product_dict(product)})
                    else:
                        shown.append(product)
        except APIConnectionError as error:
            raise _unreachable(client, error) from None
    if writer is None:
        renderer.products(
            shown,
            title=f"{len(shown)} products on {options.platform.value} for {args.keyword!r}",
        )
    position = pager.resume_from
    if pager.stop_reason in ("max_pages", "max_items"):
        where = f"{position.page}:{position.offset}" if position.offset else str(position.page)
        renderer.note(f"more results: continue with --start {where}")
    return ExitCode.OK


async def details(args: argparse.Namespace, streams: Streams, renderer: Renderer) -> int:
    """Run `details`: one product's details and SKUs, tables or JSON.

    Args:
        args: The parsed command line.
        streams: The standard streams.
        renderer: The terminal output.

    Returns:
        The exit code.
    """
    options = _query_options(args, platform_required=False)
    _check_credentials(args)
    fake = _make_fake() if args.demo else None
    if args.product is None and fake is None:
        raise CliError("a product id or URL is required (or use --demo for a sample product)")
    async with _open_client(args, fake) as client:
        try:
            product: Any = args.product
            if product is None:
                platform = options.platform or Marketplace.ALIBABA_1688
                hits = await client.image_search(fake.sample_images()[0], platform=platform)  # type: ignore[union-attr]
                product = hits.items[0]
            found = await client.product_details(
                product,
                platform=options.platform,
                language=options.language,
                use_platform=options.use_platform,
            )
        except APIConnectionError as error:
            raise _unreachable(client, error) from None
    if args.json:
        text = dumps(details_dict(found), indent=2, ascii_only=needs_ascii(streams.stdout))
        print(text, file=streams.stdout, flush=True)
    else:
        renderer.details(found)
    return ExitCode.OK


@attrs.define
class _Counts:
    done: int = 0
    ok: int = 0
    failed: int = 0
    retryable: int = 0
    """Of the failures, those a retry may fix."""


def _reached_the_server(error: HiobuyError) -> bool:
    """Tell whether a failure says the server answered (not: refused before any request)."""
    return not isinstance(error, APIConnectionError | InputError | ClientStateError)


@attrs.define
class _UnreachableGuard:
    """Holds back connection failures until the server has answered once.

    If the first few outcomes all fail to connect, the server is down or the
    base URL is wrong: the batch stops with one error, and those inputs are
    not written, so a `--resume` will search them again. An input refused
    before any request (a CSV header) is written, but says nothing of the server.
    """

    threshold: int
    base_url: str
    held: list[dict[str, Any]] = attrs.field(factory=list)
    server_answered: bool = False

    def check(self, outcome: Outcome, record: dict[str, Any]) -> list[dict[str, Any]]:
        """Return the records to write now."""
        if self.server_answered:
            return [record]
        if isinstance(outcome, Failed) and isinstance(outcome.error, APIConnectionError):
            self.held.append(record)
            if len(self.held) >= self.threshold:
                raise CliError(
                    f"cannot reach the server at {self.base_url}: {outcome.error}",
                    ExitCode.CONNECTION,
                )
            return []
        if isinstance(outcome, Failed) and not _reached_the_server(outcome.error):
            return [record]
        self.server_answered = True
        released, self.held = [*self.held, record], []
        return released


Record = Callable[[Any, int, str], dict[str, Any]]
"""Builds the JSON line of an outcome, from its input's line number and text."""


async def _run_batch(
    stream_of: Callable[[Iterator[str]], Any],
    pending: Iterator[tuple[int, str]],
    *,
    total: int,
    base_url: str,
    record: Record,
    renderer: Renderer,
    on_record: JsonlWriter | None,
    progress: bool,
    keep: list[tuple[int, Any]] | None = None,
) -> _Counts:
    """Run the inputs `pending` through a batch stream, writing each outcome as it finishes.

    Nothing is kept per input but the few in flight (and the outcomes
    themselves in `keep`, when given: the demo's dozen).
    """
    counts = _Counts()
    in_flight: dict[int, tuple[int, str]] = {}

    def items() -> Iterator[str]:
        # The batch numbers its inputs in the order it pulls them.
        for index, (line, text) in enumerate(pending):
            in_flight[index] = (line, text)
            yield text

    guard = _UnreachableGuard(min(UNREACHABLE_AFTER, total), base_url)
    with renderer.progress(total, enabled=progress) as bar:
        async with stream_of(items()) as stream:
            async for outcome in stream:
                line, text = in_flight.pop(outcome.index)
                if keep is not None:
                    keep.append((line, outcome))
                for ready in guard.check(outcome, record(outcome, line, text)):
                    if on_record is not None:
                        on_record.write(ready)
                counts.done += 1
                if isinstance(outcome, Ok):
                    counts.ok += 1
                else:
                    counts.failed += 1
                    counts.retryable += retryable(outcome.error)
                bar.update(done=counts.done, ok=counts.ok, failed=counts.failed)
    return counts


def _same_file(output: str, source: str | int) -> bool:
    """Tell whether `output` is `source` (a path or an open file), links followed."""
    try:
        theirs = os.fstat(source) if isinstance(source, int) else os.stat(source)
        ours = os.stat(output)
    except (OSError, ValueError):
        return False  # the output does not exist yet, or the input cannot be seen
    return (ours.st_dev, ours.st_ino) == (theirs.st_dev, theirs.st_ino)


def _refuse_output_as_input(output: str, path: str | None, stdin: IO[str]) -> None:
    """Refuse `--output` naming the input file (or a link to it), before either is opened.

    Replacing it would destroy the input, and `--resume` would cut its last
    line and append JSON lines to it.
    """
    source: str | int
    if path is None or path == "-":
        try:
            source = stdin.fileno()
        except (OSError, ValueError):
            return  # not a real file (a test's StringIO)
    else:
        source = path
    if _same_file(output, source):
        shown = "stdin" if isinstance(source, int) else repr(path)
        raise CliError(
            f"--output {output!r} is the same file as the input ({shown}): "
            "writing to it would destroy the input; choose another output file"
        )


def _has_content(path: str) -> bool:
    try:
        return os.path.isfile(path) and os.path.getsize(path) > 0
    except OSError:
        return False


@attrs.define
class _Plan:
    """What a batch command is to do: which inputs are left, and where the output stands."""

    inputs: InputFile
    index: OutputIndex | None
    header: dict[str, Any] | None
    retry_failed: bool
    pending: int = 0
    skipped: int = 0
    skipped_failed: int = 0
    """Inputs skipped whose last record is a failure (they remain failures)."""
    skipped_retryable: int = 0

    def __attrs_post_init__(self) -> None:
        if self.index is None:
            self.pending = self.inputs.count
            return
        for line, text in self.inputs.lines():
            status = self.index.status(line, text)
            if self._done(status):
                self.skipped += 1
                self.skipped_failed += status != OK
                self.skipped_retryable += status == RETRYABLE
            else:
                self.pending += 1

    def _done(self, status: int) -> bool:
        return status != 0 and (not self.retry_failed or status == OK)

    def lines(self) -> Iterator[tuple[int, str]]:
        """Read the inputs left to run, from the input file."""
        for line, text in self.inputs.lines():
            status = 0 if self.index is None else self.index.status(line, text)
            if not self._done(status):
                yield line, text


def _check_output_options(args: argparse.Namespace, stdin: IO[str]) -> bool:
    """Check `--output` and its companions before anything is read or written.

    Returns:
        Whether the output is to be resumed.
    """
    resume = bool(args.resume or args.retry_failed)
    if not args.output:
        for flag in ("resume", "retry_failed", "overwrite", "force"):
            if getattr(args, flag):
                raise CliError(f"--{flag.replace('_', '-')} needs --output (the file to resume)")
        return False
    if args.overwrite and resume:
        raise CliError("--overwrite starts again, --resume continues: choose one")
    if args.force and not resume:
        raise CliError("--force only applies to --resume or --retry-failed")
    _refuse_output_as_input(args.output, args.file, stdin)
    if not resume and not args.overwrite and _has_content(args.output):
        raise CliError(
            f"{args.output} exists and is not empty: --resume to continue it, "
            "--overwrite to replace it"
        )
    return resume


def _plan(
    args: argparse.Namespace,
    inputs: InputFile,
    *,
    command: str,
    key: str,
    options: _QueryOptions,
    resume: bool,
) -> _Plan:
    header = run_header(command, inputs, options.header()) if args.output else None
    if not resume or not _has_content(args.output):
        return _Plan(inputs, None, header, retry_failed=False)
    assert header is not None
    if not args.force:
        # Checked before the file is touched: a refused file stays as it was.
        check_resumable(read_run(args.output), header, inputs, path=args.output)
    index = index_output(args.output, key, last_line=inputs.last_line)
    if index is not None:
        repair_output(args.output, index)
    return _Plan(inputs, index, header, retry_failed=args.retry_failed)


@contextmanager
def _output(args: argparse.Namespace, streams: Streams, plan: _Plan) -> Iterator[IO[str]]:
    """Open `--output` (new, with its run file; or appended to), or lend stdout.

    A failure to write (a full disk) is one `cannot write output` error,
    whether it shows on a write or only when the file is closed.
    """
    if not args.output:
        yield streams.stdout
        return
    file = open_output(args.output, resume=plan.index is not None)
    try:
        # A device (/dev/null) or a pipe gets no run file: it cannot be resumed.
        if plan.index is None and os.path.isfile(args.output):
            assert plan.header is not None
            write_run(args.output, plan.header)
        yield file
    except BaseException:
        with suppress(OSError):  # the error already in flight says it
            file.close()
        raise
    try:
        file.close()
    except OSError as exc:
        raise CliError(f"cannot write output: {exc.strerror or exc}", ExitCode.OUTPUT) from None


def _failures_note(output: str, failed: int, retryable_count: int) -> str:
    """Say what is left to do about the failures in an output."""
    if retryable_count == failed:
        return f"{failed} failed in {output}: --retry-failed runs them again"
    refused = (
        "refused for good (an input that is not valid, or a refusal by the API: "
        "a retry would fail the same way; their lines say why)"
    )
    if not retryable_count:
        return f"{failed} failed in {output}, {refused}"
    return (
        f"{failed} failed in {output}: {retryable_count} may succeed when retried "
        f"(--retry-failed runs them again); {failed - retryable_count} {refused}"
    )


async def _batch_command(
    args: argparse.Namespace,
    streams: Streams,
    renderer: Renderer,
    *,
    command: str,
    key: str,
    platform_required: bool,
) -> int:
    """Run `search-many` or `details-many`: a file of inputs in, JSON lines out."""
    options = _query_options(args, platform_required=platform_required)
    pacing = _pacing(args)
    resume = _check_output_options(args, streams.stdin)
    _check_credentials(args)
    fake = _make_fake() if args.demo else None
    if fake is not None and args.file is None:
        inputs = parse_inputs("-", "".join(f"{url}\n" for url in fake.sample_images()).encode())
    else:
        inputs = read_inputs(args.file, streams.stdin)
    with closing(inputs):
        plan = _plan(args, inputs, command=command, key=key, options=options, resume=resume)
        if not inputs.count:
            renderer.note("no inputs in the file")
        started = time.monotonic()
        counts = _Counts()
        with _output(args, streams, plan) as out:
            if plan.pending:
                counts = await _run_pending(
                    args,
                    plan,
                    out,
                    fake=fake,
                    pacing=pacing,
                    options=options,
                    command=command,
                    renderer=renderer,
                    streams=streams,
                )
    renderer.note(
        summary_line(
            done=counts.done,
            ok=counts.ok,
            failed=counts.failed,
            elapsed=time.monotonic() - started,
            skipped=plan.skipped,
        )
    )
    left = counts.failed + plan.skipped_failed
    if args.output and left:
        retryable_left = counts.retryable + plan.skipped_retryable
        renderer.note(_failures_note(args.output, left, retryable_left))
    return ExitCode.FAILED if left else ExitCode.OK


async def _run_pending(
    args: argparse.Namespace,
    plan: _Plan,
    out: IO[str],
    *,
    fake: FakeHiobuy | None,
    pacing: _Pacing,
    options: _QueryOptions,
    command: str,
    renderer: Renderer,
    streams: Streams,
) -> _Counts:
    async with _open_client(args, fake, max_connections=args.concurrency, pacing=pacing) as client:
        batch: dict[str, Any] = {
            "platform": options.platform,
            "language": options.language,
            "use_platform": options.use_platform,
            "concurrency": args.concurrency,
        }
        defaults: dict[str, Any] = {"platform": options.platform, "language": options.language}
        stream_of: Callable[[Iterator[str]], Any]
        if command == "search-many":
            stream_of = lambda items: client.search_stream(items, filters=options.filters, **batch)  # noqa: E731
            record: Record = lambda o, n, t: search_record(o, line=n, img=t, **defaults)  # noqa: E731
        else:
            stream_of = lambda items: client.details_stream(items, **batch)  # noqa: E731
            record = lambda o, n, t: details_record(o, line=n, product=t, **defaults)  # noqa: E731
        return await _run_batch(
            stream_of,
            plan.lines(),
            total=plan.pending,
            base_url=client.base_url,
            record=record,
            renderer=renderer,
            on_record=JsonlWriter(out),
            progress=streams.stderr.isatty(),
        )


async def search_many(args: argparse.Namespace, streams: Streams, renderer: Renderer) -> int:
    """Run `search-many`: a file of image URLs in, JSON lines out.

    Args:
        args: The parsed command line.
        streams: The standard streams.
        renderer: The terminal output.

    Returns:
        The exit code: 0 when every input succeeded, 1 when failures remain.
    """
    return await _batch_command(
        args, streams, renderer, command="search-many", key="img", platform_required=True
    )


async def details_many(args: argparse.Namespace, streams: Streams, renderer: Renderer) -> int:
    """Run `details-many`: a file of product ids or URLs in, JSON lines out.

    Args:
        args: The parsed command line.
        streams: The standard streams.
        renderer: The terminal output.

    Returns:
        The exit code: 0 when every input succeeded, 1 when failures remain.
    """
    return await _batch_command(
        args, streams, renderer, command="details-many", key="product", platform_required=False
    )


async def demo(args: argparse.Namespace, streams: Streams, renderer: Renderer) -> int:
    """Run `demo`: a bulk image search, then the details of the top hit, on the fake server.

    Args:
        args: The parsed command line.
        streams: The standard streams.
        renderer: The terminal output.

    Returns:
        The exit code (0 once the batch ran, whatever its items' fate).
    """
    options = _query_options(args)
    assert options.platform is not None
    fake = _make_fake()
    images = fake.sample_images()
    pending = list(enumerate(images))
    started = time.monotonic()
    async with _open_client(args, fake, max_connections=args.concurrency) as client:
        renderer.line(
            f"Demo: searching {len(images)} sample images on {options.platform.value} "
            f"({options.language}) through the embedded fake HioBuy server at "
            f"{client.base_url}; no account or network needed."
        )
        outcomes: list[tuple[int, Any]] = []
        counts = await _run_batch(
            lambda items: client.search_stream(
                items,
                platform=options.platform,
                language=options.language,
                concurrency=args.concurrency,
            ),
            iter(pending),
            total=len(pending),
            base_url=client.base_url,
            record=lambda o, n, t: {},
            renderer=renderer,
            on_record=None,
            progress=streams.stderr.isatty(),
            keep=outcomes,
        )
        elapsed = time.monotonic() - started
        outcomes.sort(key=lambda pair: pair[0])
        first = next((o for _, o in outcomes if isinstance(o, Ok) and o.result.items), None)
        top = None
        if first is not None:
            top = await client.product_details(
                first.result.items[0], platform=options.platform, language=options.language
            )
    rows = [
        BatchRow(
            index=index,
            img=outcome.query.img,
            products=len(outcome.result.items) if isinstance(outcome, Ok) else None,
            best_match=(
                outcome.result.items[0].tag_percent
                if isinstance(outcome, Ok) and outcome.result.items
                else None
            ),
            error=str(outcome.error) if isinstance(outcome, Failed) else None,
        )
        for index, outcome in outcomes
    ]
    renderer.overview(rows, title="Images searched")
    if first is not None:
        items = first.result.items
        renderer.products(
            items[:DEMO_TABLE_ROWS],
            title=f"Top {min(len(items), DEMO_TABLE_ROWS)} of {len(items)} products "
            f"for {first.query.img}",
        )
    if top is not None:
        renderer.details(top)
    renderer.line(
        summary_line(done=counts.done, ok=counts.ok, failed=counts.failed, elapsed=elapsed)
    )
    renderer.line(
        "Next: hiobuy-async search-many --demo --output results.jsonl   "
        "(or set HIOBUY_UUID and drop --demo)"
    )
    return ExitCode.OK


def usable_base_url(base_url: str) -> str:
    """Turn a wildcard listening address into the loopback URL a client can use.

    Args:
        base_url: The URL the server listens on, e.g. `http://0.0.0.0:8787`.

    Returns:
        The same URL on 127.0.0.1 (or `[::1]` for `::`) when its host is
        the unspecified address, else `base_url` unchanged.
    """
    parts = urlsplit(base_url)
    try:
        host = ipaddress.ip_address(parts.hostname or "")
    except ValueError:
        return base_url
    if not host.is_unspecified:
        return base_url
    loopback = "127.0.0.1" if host.version == 4 else "[::1]"
    return parts._replace(netloc=f"{loopback}:{parts.port}").geturl()


async def fake_server(args: argparse.Namespace, streams: Streams, renderer: Renderer) -> int:
    """Run `fake-server`: serve the fake API until Ctrl-C.

    Args:
        args: The parsed command line.
        streams: The standard streams.
        renderer: The terminal output.

    Returns:
        The exit code.
    """
    fake = _make_fake(args.uuid)
    fake.latency = max(0.0, args.latency)
    uuid = args.uuid or fake.DEFAULT_UUID

    def ready(base_url: str) -> None:
        usable = usable_base_url(base_url)
        where = "" if usable == base_url else f", listening on {base_url}"
        # The uuid printed is the fake server's own, chosen on this command line.
        print(
            f"Fake HioBuy server on {usable} (Ctrl-C to stop{where}). Point a client at it:\n"
            f"  export HIOBUY_BASE_URL={usable}\n"
            f"  export HIOBUY_UUID={uuid}",
            file=streams.stdout,
            flush=True,
        )

    try:
        await fake.serve_forever(host=args.host, port=args.port, on_ready=ready)
    except OSError as exc:
        raise CliError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    return ExitCode.OK


async def cache(args: argparse.Namespace, streams: Streams, renderer: Renderer) -> int:
    """Run `cache stats PATH` or `cache clear PATH`.

    Args:
        args: The parsed command line.
        streams: The standard streams.
        renderer: The terminal output.

    Returns:
        The exit code.
    """
    if not await anyio.Path(args.path).is_file():
        raise CliError(f"no cache file at {args.path}")
    async with SQLiteCache(args.path) as store:
        stats = await store.stats()
        if args.action == "clear":
            await store.clear()
        if not store.available:
            raise CliError(f"{args.path} is not a usable cache file (locked, damaged or not one)")
    if args.action == "clear":
        print(f"{args.path}: {stats.entries} entries dropped", file=streams.stdout, flush=True)
    else:
        print(
            f"{args.path}: {stats.entries} entries, {stats.data_bytes} bytes",
            file=streams.stdout,
            flush=True,
        )
    return ExitCode.OK


async def run_command(args: argparse.Namespace, streams: Streams, renderer: Renderer) -> int:
    """Run the sub-command named on the command line.

    Args:
        args: The parsed command line.
        streams: The standard streams.
        renderer: The terminal output.

    Returns:
        The exit code.
    """
    commands = {
        "image-search": image_search,
        "keyword-search": keyword_search,
        "details": details,
        "search-many": search_many,
        "details-many": details_many,
        "demo": demo,
        "fake-server": fake_server,
        "preview-order": preview_order,
        "create-order": create_order,
        "cache": cache,
    }
    return await commands[args.command](args, streams, renderer)
