# SPDX-License-Identifier: MIT
"""The command line's grammar: argparse parsers, exit codes, one-line errors."""

from __future__ import annotations

import argparse
import enum
import sys
from collections.abc import Sequence
from typing import NoReturn

from .._version import __version__
from ..marketplaces import LOCALES, Marketplace

__all__ = ["PROG", "CliError", "ExitCode", "build_parser", "parse_args"]

PROG = "hiobuy-async"


class ExitCode(enum.IntEnum):
    """The process exit codes, listed in every `--help`."""

    OK = 0
    FAILED = 1
    USAGE = 2
    CONNECTION = 3
    INTERNAL = 4
    INTERRUPTED = 130


EPILOG = f"""\
exit codes:
  {ExitCode.OK:<4} success (search-many: every item succeeded)
  {ExitCode.FAILED:<4} the search failed (search-many: some items failed; see their JSON lines)
  {ExitCode.USAGE:<4} usage or input error: bad option, missing uuid, bad locale or platform,
       unreadable input file
  {ExitCode.CONNECTION:<4} connection or server failure: unreachable server, uuid refused,
       server errors, malformed responses
  {ExitCode.INTERNAL:<4} internal error (a bug in hiobuy-async: please report it)
  {ExitCode.INTERRUPTED:<4} interrupted (Ctrl-C); search-many keeps the lines it wrote

environment:
  HIOBUY_UUID      the merchant uuid (or --uuid); never printed
  HIOBUY_BASE_URL  the API base URL (or --base-url); default https://open.hiobuy.com

Try it with no account: {PROG} demo
"""


class CliError(Exception):
    """A failure to report as one line on stderr, with an exit code.

    Attributes:
        message: What went wrong.
        code: The exit code.
    """

    def __init__(self, message: str, code: ExitCode = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, `hiobuy-async: error: ...`."""

    def error(self, message: str) -> NoReturn:
        hint = f"see '{self.prog} --help'"
        raise CliError(f"{message} ({hint})", ExitCode.USAGE)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0-65535, got {text!r}")
    return value


_PLATFORMS = ", ".join(m.value for m in Marketplace)
_LOCALES_HELP = "; ".join(f"{m.value}: {' '.join(locales)}" for m, locales in LOCALES.items())


def _add_connection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection")
    group.add_argument(
        "--uuid",
        help="the merchant uuid (default: $HIOBUY_UUID; prefer the variable, "
        "command lines are visible to other users)",
    )
    group.add_argument(
        "--base-url", metavar="URL", help="the API base URL (default: $HIOBUY_BASE_URL)"
    )
    group.add_argument(
        "--timeout",
        type=_positive_float,
        default=30.0,
        metavar="S",
        help="seconds per attempt (default: %(default)s)",
    )
    group.add_argument(
        "--max-retries",
        type=_non_negative_int,
        default=2,
        metavar="N",
        help="retries after a failed attempt (default: %(default)s)",
    )
    group.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help="allow a plain http:// base URL to a non-loopback host (sends the uuid in clear)",
    )
    group.add_argument(
        "--demo",
        action="store_true",
        help="search the embedded fake HioBuy server instead (no uuid, no network)",
    )


def _add_search_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("search")
    group.add_argument(
        "--platform",
        "-p",
        metavar="NAME",
        help=f"the marketplace: {_PLATFORMS} (required unless --demo, which defaults to 1688)",
    )
    group.add_argument(
        "--language",
        "-l",
        metavar="LOCALE",
        help=f"the locale of titles (default: zh_CN; --demo: en_US). {_LOCALES_HELP}",
    )
    group.add_argument(
        "--use-platform",
        action="store_true",
        help="1688 only: ask for 1688-native fields",
    )
    group.add_argument(
        "--filter",
        dest="filters",
        action="append",
        metavar="X",
        help="1688 only: a filter such as certifiedFactory (repeatable)",
    )


def _add_hidden_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend", choices=("asyncio", "trio"), default="asyncio", help=argparse.SUPPRESS
    )
    parser.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    """Build the `hiobuy-async` parser and its sub-commands.

    Returns:
        The parser.
    """
    formatter = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog=PROG,
        description="Search Taobao and 1688 by image through HioBuy's API.",
        epilog=EPILOG,
        formatter_class=formatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    one = commands.add_parser(
        "image-search",
        help="search one image and print the products found",
        description="Search one image; print a table of products, or JSON with --json.",
        epilog=EPILOG,
        formatter_class=formatter,
    )
    one.add_argument("img", nargs="?", metavar="IMG", help="the image URL (--demo: a sample image)")
    _add_search_options(one)
    one.add_argument("--json", action="store_true", help="print the result as JSON")
    _add_connection_options(one)
    _add_hidden_options(one)

    many = commands.add_parser(
        "search-many",
        help="search many images, one JSON line per image",
        description=(
            "Search the image URLs in FILE (one per line; blank lines and lines starting "
            "with # are skipped; '-' or no FILE reads stdin). Writes one JSON line per "
            'input as results arrive: {"index", "img", "ok", "error", "products"}.'
        ),
        epilog=EPILOG,
        formatter_class=formatter,
    )
    many.add_argument(
        "file",
        nargs="?",
        metavar="FILE",
        help="the list of image URLs, or '-' for stdin (--demo: the sample images)",
    )
    _add_search_options(many)
    many.add_argument(
        "--concurrency",
        "-c",
        type=_positive_int,
        default=8,
        metavar="N",
        help="requests in flight at once (default: %(default)s)",
    )
    many.add_argument(
        "--rate-limit",
        type=_positive_float,
        metavar="R",
        help="requests started per second at most (default: no limit)",
    )
    many.add_argument(
        "--output",
        "-o",
        metavar="PATH",
        help="write the JSON lines to PATH instead of stdout",
    )
    many.add_argument(
        "--resume",
        action="store_true",
        help="append to --output, skipping inputs it already holds (same index and URL)",
    )
    _add_connection_options(many)
    _add_hidden_options(many)

    demo = commands.add_parser(
        "demo",
        help="run a bulk search against the embedded fake server (no account needed)",
        description=(
            "Start the embedded fake HioBuy server on 127.0.0.1, search its sample images "
            "in bulk through the real client over HTTP, and print the products found."
        ),
        epilog=EPILOG,
        formatter_class=formatter,
    )
    demo.add_argument(
        "--platform", "-p", default="1688", metavar="NAME", help="default: %(default)s"
    )
    demo.add_argument("--language", "-l", default="en_US", metavar="LOCALE")
    demo.add_argument("--concurrency", "-c", type=_positive_int, default=8, metavar="N")
    demo.set_defaults(
        demo=True,
        use_platform=False,
        filters=None,
        uuid=None,
        base_url=None,
        timeout=10.0,
        max_retries=2,
    )
    _add_hidden_options(demo)

    server = commands.add_parser(
        "fake-server",
        help="run the fake HioBuy server until Ctrl-C",
        description=(
            "Serve the fake HioBuy API over HTTP, for tests in other processes or languages."
        ),
        epilog=EPILOG,
        formatter_class=formatter,
    )
    server.add_argument("--host", default="127.0.0.1", help="default: %(default)s")
    server.add_argument("--port", type=_port, default=8787, help="default: %(default)s")
    server.add_argument(
        "--uuid", help="the uuid the server accepts (default: the testing kit's fake uuid)"
    )
    server.add_argument(
        "--latency",
        type=float,
        default=0.0,
        metavar="S",
        help="seconds added before each answer, to mimic a real API (default: 0)",
    )
    _add_hidden_options(server)
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv: The arguments, without the program name (default: `sys.argv[1:]`).

    Returns:
        The parsed options.

    Raises:
        CliError: The command line is invalid.
    """
    return build_parser().parse_args(sys.argv[1:] if argv is None else argv)
