# SPDX-License-Identifier: MIT
"""What each sub-command does, as async functions returning an exit code."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import IO, TYPE_CHECKING, Any

import attrs

from .._batch import Failed, Ok, Outcome
from .._client import AsyncHiobuy
from .._exceptions import APIConnectionError
from ..marketplaces import Marketplace, validate_locale, validate_marketplace
from ._args import CliError, ExitCode
from ._jsonl import (
    JsonlWriter,
    dumps,
    load_finished,
    needs_ascii,
    open_output,
    outcome_record,
    read_inputs,
    result_dict,
)
from ._render import BatchRow, Renderer, summary_line

if TYPE_CHECKING:
    from ..testing import FakeHiobuy

__all__ = ["Streams", "run_command"]

DEMO_PLATFORM = "1688"
DEMO_LANGUAGE = "en_US"
DEMO_TABLE_ROWS = 10
UNREACHABLE_AFTER = 3
"""Connection failures, with no success yet, after which a batch gives up."""


@attrs.frozen
class Streams:
    """The standard streams, injectable for tests.

    Attributes:
        stdin: Standard input.
        stdout: Standard output.
        stderr: Standard error.
    """

    stdin: IO[str]
    stdout: IO[str]
    stderr: IO[str]


@attrs.frozen
class _SearchOptions:
    platform: Marketplace
    language: str | None
    use_platform: bool
    filters: tuple[str, ...] | None


def _search_options(args: argparse.Namespace) -> _SearchOptions:
    """Check platform and locale before anything is opened or sent."""
    platform = args.platform or (DEMO_PLATFORM if args.demo else None)
    if platform is None:
        raise CliError("--platform is required: taobao or 1688")
    marketplace = validate_marketplace(platform)
    language = args.language or (DEMO_LANGUAGE if args.demo else None)
    validate_locale(marketplace, language)
    if args.use_platform and marketplace is not Marketplace.ALIBABA_1688:
        raise CliError("--use-platform is supported on 1688 only")
    if args.filters and marketplace is not Marketplace.ALIBABA_1688:
        raise CliError("--filter is supported on 1688 only")
    return _SearchOptions(
        platform=marketplace,
        language=language,
        use_platform=args.use_platform,
        filters=tuple(args.filters) if args.filters else None,
    )


def _make_fake(uuid: str | None = None) -> FakeHiobuy:
    # Imported only for --demo and fake-server: plain searches never load it.
    from ..testing import FakeHiobuy  # noqa: PLC0415

    return FakeHiobuy() if uuid is None else FakeHiobuy(uuids=(uuid,))


def _check_credentials(args: argparse.Namespace) -> str | None:
    """Return the uuid to use (`None` for `--demo`), before any file is touched."""
    if args.demo:
        if args.uuid or args.base_url:
            raise CliError("--demo searches the embedded fake server: drop --uuid and --base-url")
        return None
    uuid: str | None = args.uuid or os.environ.get("HIOBUY_UUID")
    if not uuid:
        raise CliError("no uuid: set HIOBUY_UUID or pass --uuid (or try --demo, which needs none)")
    return uuid


@asynccontextmanager
async def _open_client(
    args: argparse.Namespace, fake: FakeHiobuy | None, *, max_connections: int = 32
) -> AsyncIterator[AsyncHiobuy]:
    """Make the client: for the real API, or for the embedded fake server (`--demo`)."""
    options: dict[str, Any] = {
        "timeout": args.timeout,
        "max_retries": args.max_retries,
        "max_connections": max_connections,
    }
    uuid = _check_credentials(args)
    if fake is not None:
        async with (
            fake.serve() as base_url,
            AsyncHiobuy(fake.DEFAULT_UUID, base_url=base_url, **options) as client,
        ):
            yield client
        return
    client = AsyncHiobuy(
        uuid,
        base_url=args.base_url,
        allow_insecure_http=args.allow_insecure_http,
        **options,
    )
    async with client:
        yield client


async def image_search(args: argparse.Namespace, streams: Streams, renderer: Renderer) -> int:
    """Run `image-search`: one image, a table or JSON.

    Args:
        args: The parsed command line.
        streams: The standard streams.
        renderer: The terminal output.

    Returns:
        The exit code.
    """
    options = _search_options(args)
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
            raise CliError(
                f"cannot reach the server at {client.base_url}: {error}", ExitCode.CONNECTION
            ) from None
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


@attrs.define
class _Counts:
    done: int = 0
    ok: int = 0
    failed: int = 0


@attrs.define
class _UnreachableGuard:
    """Holds back connection failures until the server has answered once.

    If the first few outcomes all fail to connect, the server is down or the
    base URL is wrong: the batch stops with one error, and those inputs are
    not written, so a `--resume` will search them again.
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
        self.server_answered = True
        released, self.held = [*self.held, record], []
        return released


async def _run_batch(
    client: AsyncHiobuy,
    pending: Sequence[tuple[int, str]],
    options: _SearchOptions,
    *,
    args: argparse.Namespace,
    renderer: Renderer,
    on_record: JsonlWriter | None,
    progress: bool,
) -> tuple[_Counts, list[tuple[int, Outcome]]]:
    counts = _Counts()
    outcomes: list[tuple[int, Outcome]] = []
    guard = _UnreachableGuard(min(UNREACHABLE_AFTER, len(pending)), client.base_url)
    with renderer.progress(len(pending), enabled=progress) as bar:
        async with client.search_stream(
            [img for _, img in pending],
            platform=options.platform,
            language=options.language,
            use_platform=options.use_platform,
            filters=options.filters,
            concurrency=args.concurrency,
            rate_limit=getattr(args, "rate_limit", None),
        ) as stream:
            async for outcome in stream:
                index = pending[outcome.index][0]
                outcomes.append((index, outcome))
                record = outcome_record(outcome, index=index)
                for ready in guard.check(outcome, record):
                    if on_record is not None:
                        on_record.write(ready)
                counts.done += 1
                if isinstance(outcome, Ok):
                    counts.ok += 1
                else:
                    counts.failed += 1
                bar.update(done=counts.done, ok=counts.ok, failed=counts.failed)
    return counts, outcomes


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
    URL and append JSON lines to it.
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
            "writing to it would destroy the image URLs; choose another output file"
        )


@contextmanager
def _output(args: argparse.Namespace, streams: Streams) -> Iterator[IO[str]]:
    """Open `--output` (replaced, or appended to with `--resume`), or lend stdout."""
    if not args.output:
        yield streams.stdout
        return
    with open_output(args.output, resume=args.resume) as file:
        yield file


async def search_many(args: argparse.Namespace, streams: Streams, renderer: Renderer) -> int:
    """Run `search-many`: a file of image URLs in, JSON lines out.

    Args:
        args: The parsed command line.
        streams: The standard streams.
        renderer: The terminal output.

    Returns:
        The exit code: 0 when every input succeeded, 1 when some failed.
    """
    options = _search_options(args)
    if args.resume and not args.output:
        raise CliError("--resume needs --output (the file to resume)")
    _check_credentials(args)
    if args.output:
        _refuse_output_as_input(args.output, args.file, streams.stdin)
    fake = _make_fake() if args.demo else None
    if fake is not None and args.file is None:
        urls = fake.sample_images()
    else:
        urls = read_inputs(args.file, streams.stdin)
    finished = load_finished(args.output) if args.resume else set()
    pending = [(n, url) for n, url in enumerate(urls) if (n, url) not in finished]
    skipped = len(urls) - len(pending)
    if not urls:
        renderer.note("no image URLs in the input")
    started = time.monotonic()
    counts = _Counts()
    with _output(args, streams) as out:
        if pending:
            async with _open_client(args, fake, max_connections=args.concurrency) as client:
                counts, _ = await _run_batch(
                    client,
                    pending,
                    options,
                    args=args,
                    renderer=renderer,
                    on_record=JsonlWriter(out),
                    progress=streams.stderr.isatty(),
                )
    renderer.note(
        summary_line(
            done=counts.done,
            ok=counts.ok,
            failed=counts.failed,
            elapsed=time.monotonic() - started,
            skipped=skipped,
        )
    )
    return ExitCode.FAILED if counts.failed else ExitCode.OK


async def demo(args: argparse.Namespace, streams: Streams, renderer: Renderer) -> int:
    """Run `demo`: a real bulk search against the embedded fake server.

    Args:
        args: The parsed command line.
        streams: The standard streams.
        renderer: The terminal output.

    Returns:
        The exit code (0 once the batch ran, whatever its items' fate).
    """
    options = _search_options(args)
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
        counts, outcomes = await _run_batch(
            client,
            pending,
            options,
            args=args,
            renderer=renderer,
            on_record=None,
            progress=streams.stderr.isatty(),
        )
    elapsed = time.monotonic() - started
    outcomes.sort(key=lambda pair: pair[0])
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
    first = next((o for _, o in outcomes if isinstance(o, Ok) and o.result.items), None)
    if first is not None:
        items = first.result.items
        renderer.products(
            items[:DEMO_TABLE_ROWS],
            title=f"Top {min(len(items), DEMO_TABLE_ROWS)} of {len(items)} products "
            f"for {first.query.img}",
        )
    renderer.line(
        summary_line(done=counts.done, ok=counts.ok, failed=counts.failed, elapsed=elapsed)
    )
    renderer.line(
        "Next: hiobuy-async search-many --demo --output results.jsonl   "
        "(or set HIOBUY_UUID and drop --demo)"
    )
    return ExitCode.OK


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
        # The uuid printed is the fake server's own, chosen on this command line.
        print(
            f"Fake HioBuy server on {base_url} (Ctrl-C to stop). Point a client at it:\n"
            f"  export HIOBUY_BASE_URL={base_url}\n"
            f"  export HIOBUY_UUID={uuid}",
            file=streams.stdout,
            flush=True,
        )

    try:
        await fake.serve_forever(host=args.host, port=args.port, on_ready=ready)
    except OSError as exc:
        raise CliError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
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
        "search-many": search_many,
        "demo": demo,
        "fake-server": fake_server,
    }
    return await commands[args.command](args, streams, renderer)
