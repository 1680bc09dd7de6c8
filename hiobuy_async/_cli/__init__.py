# SPDX-License-Identifier: MIT
"""The `hiobuy-async` command line (`python -m hiobuy_async`).

Errors are reported as one line on stderr, `hiobuy-async: error: ...`, with
the exit codes listed in `--help`; never as a traceback (the hidden
`--debug` option re-raises unexpected errors).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TextIO

import anyio

from .._exceptions import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    HiobuyError,
    InputError,
    OrderOutcomeUnknownError,
)
from ._args import PROG, CliError, ExitCode, parse_args
from ._commands import Streams, run_command
from ._render import Renderer, terminal_text

__all__ = ["main"]


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


# The SDK's InputError messages name its Python arguments; on the command
# line the same advice names the options. Words that are also plain English
# are mapped only where they open the message.
_CLI_NAMES = {
    "allow_insecure_http=True": "--allow-insecure-http",
    "uuid=...": "--uuid",
    "base_url": "--base-url",
    "page_size": "--page-size",
    "price_min": "--price-min",
    "price_max": "--price-max",
    "max_items": "--max-items",
    "max_pages": "--pages",
    "start.page": "--start",
    "start.offset": "--start",
    "rate_limit": "--rate-limit",
    "use_platform": "--use-platform",
    "filters": "--filter",
    "concurrency": "--concurrency",
    "max_connections": "--concurrency",
    "max_retries": "--max-retries",
    "timeout": "--timeout",
}
_OPENING_NAMES = {
    "platform": "--platform",
    "language": "--language",
    "keyword": "KEYWORD",
    "sort": "--sort",
    "product": "ID_OR_URL",
    "img": "the image URL",
}
_CLI_NAME = re.compile(
    r"(?<![\w.-])(" + "|".join(re.escape(name) for name in _CLI_NAMES) + r")(?![\w])"
)
_OPENING_NAME = re.compile(r"^(" + "|".join(_OPENING_NAMES) + r")\b")


def cli_advice(message: str) -> str:
    """Reword an SDK `InputError` message for the command line.

    Args:
        message: The message, naming Python arguments (`allow_insecure_http=True`).

    Returns:
        The message naming the options instead (`--allow-insecure-http`).
    """
    message = _CLI_NAME.sub(lambda m: _CLI_NAMES[m.group(1)], message)
    return _OPENING_NAME.sub(lambda m: _OPENING_NAMES[m.group(1)], message)


def _describe(error: BaseException) -> tuple[str, ExitCode]:
    if isinstance(error, CliError):
        return error.message, error.code
    if isinstance(error, InputError):
        return cli_advice(str(error)), ExitCode.USAGE
    if isinstance(error, OrderOutcomeUnknownError):
        return (
            f"{error}; idempotency key {error.idempotency_key}"
            + (f", client reference {error.client_reference}" if error.client_reference else "")
            + ": look the order up in the merchant console before placing it again",
            ExitCode.OUTCOME_UNKNOWN,
        )
    if isinstance(error, AuthenticationError):
        return f"the server refused the uuid: {error}", ExitCode.CONNECTION
    if isinstance(error, APIConnectionError):
        return f"cannot reach the server: {error}", ExitCode.CONNECTION
    if isinstance(error, APIError):
        return f"the API refused the call: {error}", ExitCode.FAILED
    if isinstance(error, HiobuyError):
        return str(error), ExitCode.CONNECTION
    return (
        f"unexpected {type(error).__name__}: {error} (re-run with --debug for a traceback)",
        ExitCode.INTERNAL,
    )


@contextmanager
def _one_line_warnings(stderr: TextIO) -> Iterator[None]:
    """Show each distinct warning once, as `hiobuy-async: warning: ...`."""
    seen: set[str] = set()

    def show(  # noqa: PLR0917 - the signature of warnings.showwarning
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        text = str(message)
        if text not in seen:
            seen.add(text)
            print(terminal_text(f"{PROG}: warning: {text}", stderr), file=stderr, flush=True)

    # The SDK's own warnings through logging (a Redis quota unreachable, once
    # per outage) get the same one-line form, instead of logging's bare last resort.
    logger = logging.getLogger("hiobuy_async")
    handler: logging.Handler | None = None
    if not logger.handlers and not logging.getLogger().handlers:
        handler = _WarningLines(stderr)
        logger.addHandler(handler)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        # Python hides ResourceWarning by default; here they would be other
        # libraries' leaks (coredis leaves anyio streams unclosed on every
        # failed connection to Redis), dozens a second. The SDK's own stay shown.
        warnings.filterwarnings("ignore", category=ResourceWarning)
        warnings.filterwarnings("always", category=ResourceWarning, module=r"hiobuy_async\b")
        warnings.showwarning = show
        try:
            yield
        finally:
            if handler is not None:
                logger.removeHandler(handler)


class _WarningLines(logging.Handler):
    """Prints log records of WARNING and above as `hiobuy-async: warning: ...` lines."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(logging.WARNING)
        self.stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = terminal_text(f"{PROG}: warning: {record.getMessage()}", self.stream)
            print(text, file=self.stream, flush=True)
        except Exception:  # noqa: BLE001 - logging must never break the command
            self.handleError(record)


def _check_backend(backend: str) -> None:
    if backend == "trio":
        try:
            import trio  # noqa: F401, PLC0415 - only to tell whether it is installed
        except ImportError:
            raise CliError("--backend trio needs trio: pip install trio") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `hiobuy-async` command line.

    Args:
        argv: The arguments, without the program name (default: `sys.argv[1:]`).

    Returns:
        The exit code (see `hiobuy-async --help`).
    """
    streams = Streams(stdin=sys.stdin, stdout=sys.stdout, stderr=sys.stderr)
    args: argparse.Namespace | None = None
    try:
        args = parse_args(argv)
        _check_backend(args.backend)
        renderer = Renderer(streams.stdout, streams.stderr)
        with _one_line_warnings(sys.stderr):
            return anyio.run(run_command, args, streams, renderer, backend=args.backend)
    except SystemExit as exit_:  # --help and --version
        return exit_.code if isinstance(exit_.code, int) else ExitCode.USAGE
    except BaseException as error:  # the CLI's last line of defence
        leaves = _leaves(error)
        if any(isinstance(leaf, KeyboardInterrupt) for leaf in leaves):
            if args is not None and args.command == "fake-server":
                print(f"{PROG}: stopped", file=sys.stderr)
                return ExitCode.OK
            hint = ""
            if args is not None and args.command.endswith("-many") and args.output:
                hint = f"; the lines written are kept: add --resume to continue {args.output}"
            print(f"{PROG}: interrupted{hint}", file=sys.stderr)
            return ExitCode.INTERRUPTED
        if any(isinstance(leaf, BrokenPipeError) for leaf in leaves):
            # stdout was closed early (`| head`): stop quietly, and keep Python
            # from complaining again when it flushes stdout at exit.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return ExitCode.FAILED
        if args is not None and args.debug:
            raise
        known = [leaf for leaf in leaves if isinstance(leaf, CliError | HiobuyError)]
        message, code = _describe((known or leaves)[0])
        line = terminal_text(f"{PROG}: error: {_one_line(message)}", sys.stderr)
        print(line, file=sys.stderr, flush=True)
        return code


def _one_line(text: str) -> str:
    return " ".join(text.split())
