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
    OUTPUT = 5
    OUTCOME_UNKNOWN = 6
    INTERRUPTED = 130


EPILOG = f"""\
exit codes:
  {ExitCode.OK:<4} success (search-many, details-many: every input succeeded)
  {ExitCode.FAILED:<4} the call failed (search-many, details-many: failures remain in the
       output; see their JSON lines, and --retry-failed)
  {ExitCode.USAGE:<4} usage or input error: bad option, missing uuid, bad locale or platform,
       unreadable input file, an output that does not match the input (--resume)
  {ExitCode.CONNECTION:<4} connection or server failure: unreachable server, uuid refused,
       server errors, malformed responses
  {ExitCode.INTERNAL:<4} internal error (a bug in hiobuy-async: please report it)
  {ExitCode.OUTPUT:<4} cannot write the output (disk full...): the lines written are kept;
       --resume continues once it can be written
  {ExitCode.OUTCOME_UNKNOWN:<4} create-order: the order may or may not have been placed (its
       answer was lost); look it up in the merchant console before anything else
  {ExitCode.INTERRUPTED:<4} interrupted (Ctrl-C); search-many and details-many keep the lines
       they wrote

environment:
  HIOBUY_UUID             the merchant uuid (or --uuid); never printed
  HIOBUY_BASE_URL         the API base URL (or --base-url); default https://open.hiobuy.com
  HIOBUY_REDIS_QUOTA_URL  the Redis server of --quota-key (or --redis-quota); never printed

Try it with no account: {PROG} demo
"""

SUB_EPILOG = f"Exit codes and environment variables: see '{PROG} --help'."


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


def _comma_list(text: str) -> list[str]:
    """Split `--filter a,b` into its values (the option is repeatable too)."""
    values = [part.strip() for part in text.split(",")]
    if not all(values):
        raise argparse.ArgumentTypeError(f"expected comma-separated values, got {text!r}")
    return values


def _page_position(text: str) -> tuple[int, int]:
    page, _, offset = text.partition(":")
    try:
        position = (int(page), int(offset or "0"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected PAGE or PAGE:OFFSET, got {text!r}") from None
    if position[0] < 1 or position[1] < 0:
        raise argparse.ArgumentTypeError(f"expected PAGE >= 1 and OFFSET >= 0, got {text!r}")
    return position


_PLATFORMS = ", ".join(m.value for m in Marketplace)
_LOCALES_HELP = "; ".join(f"{m.value}: {' '.join(locales)}" for m, locales in LOCALES.items())
SORTS = {
    "price-asc": "bid",
    "price-desc": "bid2",
    "sales-asc": "sale",
    "sales-desc": "sale2",
}
"""`--sort` names and the API codes they stand for (the codes are accepted too)."""


def _add_connection_options(parser: argparse.ArgumentParser, *, cache: bool = True) -> None:
    if cache:  # every read command
        _add_cache_option(parser)
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
        help="use the embedded fake HioBuy server instead (no uuid, no network)",
    )


def _add_market_options(
    parser: argparse.ArgumentParser, *, platform_help: str, filters: bool = True
) -> argparse._ArgumentGroup:
    group = parser.add_argument_group("query")
    group.add_argument("--platform", "-p", metavar="NAME", help=platform_help)
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
    if filters:
        group.add_argument(
            "--filter",
            dest="filters",
            action="extend",
            type=_comma_list,
            metavar="X[,Y]",
            help="1688 only: filters such as certifiedFactory (comma-separated, repeatable)",
        )
    else:
        parser.set_defaults(filters=None)
    return group


_REQUIRED_PLATFORM = (
    f"the marketplace: {_PLATFORMS} (required unless --demo, which defaults to 1688)"
)


def _add_batch_options(parser: argparse.ArgumentParser, *, what: str) -> None:
    group = parser.add_argument_group("pacing")
    group.add_argument(
        "--concurrency",
        "-c",
        type=_positive_int,
        default=8,
        metavar="N",
        help="requests in flight at once (default: %(default)s)",
    )
    group.add_argument(
        "--rate-limit",
        type=_positive_float,
        metavar="R",
        help="requests started per second at most, retries included (default: no limit)",
    )
    group.add_argument(
        "--redis-quota",
        metavar="URL",
        help="share --rate-limit with every process using the same --quota-key, through "
        "this Redis server (redis://host:port/db; default: $HIOBUY_REDIS_QUOTA_URL, which "
        "keeps a password out of sight; needs hiobuy-async[redis])",
    )
    group.add_argument(
        "--quota-key",
        metavar="K",
        help="the name of the shared quota, the same in every process (e.g. one per account)",
    )
    output = parser.add_argument_group("output")
    output.add_argument(
        "--output",
        "-o",
        metavar="PATH",
        help="write the JSON lines to PATH instead of stdout",
    )
    output.add_argument(
        "--resume",
        action="store_true",
        help=f"continue --output: skip the {what} it already holds (it must come from the "
        "same input and options)",
    )
    output.add_argument(
        "--retry-failed",
        action="store_true",
        help=f"like --resume, and also run again the {what} whose last line is a failure",
    )
    output.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing, non-empty --output (without it, that is refused)",
    )
    output.add_argument(
        "--force",
        action="store_true",
        help="--resume even an output made from another input or with other options",
    )


def _add_cache_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument_group("cache").add_argument(
        "--cache",
        metavar="PATH",
        help="answer repeated reads from this SQLite file (created if missing) and store "
        "successful answers in it for 24 h; processes may share it. A hit sends no request",
    )


def _add_hidden_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend", choices=("asyncio", "trio"), default="asyncio", help=argparse.SUPPRESS
    )
    parser.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def _sub(
    commands: argparse._SubParsersAction[_Parser],
    name: str,
    *,
    help: str,
    description: str,
) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        name,
        help=help,
        description=description,
        epilog=SUB_EPILOG,
    )
    _add_hidden_options(parser)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """Build the `hiobuy-async` parser and its sub-commands.

    Returns:
        The parser.
    """
    parser = _Parser(
        prog=PROG,
        description="Search Taobao and 1688 through HioBuy's API: by image or keyword, "
        "and fetch product details with their SKUs.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    one = _sub(
        commands,
        "image-search",
        help="search one image and print the products found",
        description="Search one image; print a table of products, or JSON with --json.",
    )
    one.add_argument("img", nargs="?", metavar="IMG", help="the image URL (--demo: a sample image)")
    _add_market_options(one, platform_help=_REQUIRED_PLATFORM)
    one.add_argument("--json", action="store_true", help="print the result as JSON")
    _add_connection_options(one)

    keyword = _sub(
        commands,
        "keyword-search",
        help="search by keyword, page after page",
        description=(
            "Search products by keyword; print a table, or one JSON line per product with "
            "--json. Fetches one page unless --pages or --max-items asks for more, and never "
            "a page past the last."
        ),
    )
    keyword.add_argument("keyword", metavar="KEYWORD", help="the search words")
    group = _add_market_options(keyword, platform_help=_REQUIRED_PLATFORM)
    group.add_argument(
        "--sort",
        metavar="ORDER",
        choices=[*SORTS, *SORTS.values()],
        help=f"the order: {', '.join(SORTS)}, or the API's codes (default: the API's order)",
    )
    group.add_argument("--price-min", metavar="P", help="the lowest price, e.g. 9.90")
    group.add_argument("--price-max", metavar="P", help="the highest price")
    paging = keyword.add_argument_group("pages")
    paging.add_argument(
        "--page-size",
        type=int,
        default=20,
        metavar="N",
        help="products per page, 1 to 50 (default: %(default)s)",
    )
    paging.add_argument(
        "--start",
        type=_page_position,
        default=(1, 0),
        metavar="PAGE[:OFFSET]",
        help="the first page, and products of it to skip (as printed when a search stops "
        "early; default: 1)",
    )
    limit = paging.add_mutually_exclusive_group()
    limit.add_argument("--pages", type=_positive_int, metavar="N", help="fetch at most N pages")
    limit.add_argument(
        "--max-items", type=_positive_int, metavar="N", help="print at most N products"
    )
    keyword.add_argument("--json", action="store_true", help="print one JSON line per product")
    _add_connection_options(keyword)

    details = _sub(
        commands,
        "details",
        help="fetch one product's details and SKUs",
        description=(
            "Fetch a product's details: titles, prices, shop and SKUs. ID_OR_URL is a "
            "product id or a product URL (detail.1688.com, m.1688.com, item.taobao.com and "
            "detail.tmall.com tell their platform)."
        ),
    )
    details.add_argument(
        "product",
        nargs="?",
        metavar="ID_OR_URL",
        help="the product id or URL (--demo: the top hit of a sample image)",
    )
    _add_market_options(
        details,
        platform_help=f"the marketplace: {_PLATFORMS} (inferred from a known product URL; "
        "--demo: 1688)",
        filters=False,
    )
    details.add_argument("--json", action="store_true", help="print the details as JSON")
    _add_connection_options(details)

    many = _sub(
        commands,
        "search-many",
        help="search many images, one JSON line per image",
        description=(
            "Search the image URLs in FILE (one per line; blank lines and lines starting "
            "with # are skipped; '-' or no FILE reads stdin). Writes one JSON line per "
            'input as results arrive: {"line", "img", "platform", "language", "ok", '
            '"error", "products"}; with --output, what the run was made from goes to '
            "PATH.run.json, for --resume."
        ),
    )
    many.add_argument(
        "file",
        nargs="?",
        metavar="FILE",
        help="the list of image URLs, or '-' for stdin (--demo: the sample images)",
    )
    _add_market_options(many, platform_help=_REQUIRED_PLATFORM)
    _add_batch_options(many, what="images")
    _add_connection_options(many)

    bulk = _sub(
        commands,
        "details-many",
        help="fetch the details of many products, one JSON line per product",
        description=(
            "Fetch the details of the product ids or URLs in FILE (one per line; blank "
            "lines and lines starting with # are skipped; '-' reads stdin). Writes one JSON "
            'line per input as results arrive: {"line", "product", "platform", "language", '
            '"ok", "error", "details"}; with --output, what the run was made from goes to '
            "PATH.run.json, for --resume."
        ),
    )
    bulk.add_argument(
        "file", metavar="FILE", help="the list of product ids or URLs, or '-' for stdin"
    )
    _add_market_options(
        bulk,
        platform_help=f"the marketplace of bare ids: {_PLATFORMS} (URLs tell their own; "
        "--demo: 1688)",
        filters=False,
    )
    _add_batch_options(bulk, what="products")
    _add_connection_options(bulk)

    demo = _sub(
        commands,
        "demo",
        help="search by image and fetch details on the embedded fake server (no account)",
        description=(
            "Start the embedded fake HioBuy server on 127.0.0.1, search its sample images "
            "in bulk through the real client over HTTP, print the products found, then "
            "the details and SKUs of the top hit."
        ),
    )
    demo.add_argument(
        "--platform", "-p", default="1688", metavar="NAME", help="default: %(default)s"
    )
    demo.add_argument(
        "--language", "-l", default="en_US", metavar="LOCALE", help="default: %(default)s"
    )
    demo.add_argument(
        "--concurrency", "-c", type=_positive_int, default=8, metavar="N", help="default: 8"
    )
    demo.set_defaults(
        demo=True,
        use_platform=False,
        filters=None,
        uuid=None,
        base_url=None,
        timeout=10.0,
        max_retries=2,
        allow_insecure_http=False,
        rate_limit=None,
        redis_quota=None,
        quota_key=None,
        cache=None,
    )

    server = _sub(
        commands,
        "fake-server",
        help="run the fake HioBuy server until Ctrl-C",
        description=(
            "Serve the fake HioBuy API over HTTP, for tests in other processes or languages."
        ),
    )
    server.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to listen on; 0.0.0.0 or :: for every interface (default: %(default)s)",
    )
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
    _add_order_commands(commands)
    _add_cache_command(commands)
    return parser


def _add_cache_command(commands: argparse._SubParsersAction[_Parser]) -> None:
    cache = _sub(
        commands,
        "cache",
        help="count or empty a --cache file",
        description="stats: count the entries of a --cache file; clear: drop them all.",
    )
    cache.add_argument("action", choices=("stats", "clear"), help="stats or clear")
    cache.add_argument("path", metavar="PATH", help="the SQLite file given to --cache")


def _add_order_commands(commands: argparse._SubParsersAction[_Parser]) -> None:
    preview = _sub(
        commands,
        "preview-order",
        help="quote the fees of an order (JSON file), without placing it",
        description=(
            "Ask HioBuy what an order would cost. FILE ('-': stdin) holds a JSON object: "
            '{"platform": "taobao" or "1688", "lines": [{"goods_id", "sku_id", "quantity", '
            '"spec_id" (1688)}], "address": {"receiver_name", "postcode", "province", "city", '
            '"district", "address", "phone", "street" (optional)}}. Prints the fees as JSON.'
        ),
    )
    preview.add_argument("file", metavar="FILE", help="the order, as JSON ('-' for stdin)")
    _add_connection_options(preview, cache=False)

    create = _sub(
        commands,
        "create-order",
        help="place a purchasing-agent order (JSON file): real money, sent at most once",
        description=(
            "Place the order in FILE ('-': stdin), a JSON object of create-order's documented "
            "fields (scalars may be numbers: they are sent as strings; address is sent as "
            "given). Prints the submission as JSON. HioBuy has no duplicate detection: give "
            "each order its own --idempotency-key and keep --journal, so that running the "
            f"command again never places it twice. Exit code {ExitCode.OUTCOME_UNKNOWN}: the "
            "order may or may not have been placed; check the merchant console."
        ),
    )
    create.add_argument("file", metavar="FILE", help="the order, as JSON ('-' for stdin)")
    order = create.add_argument_group("order")
    order.add_argument(
        "--idempotency-key",
        metavar="KEY",
        help="this order's key (default: a fresh one, printed); with --journal, the same "
        "key is never sent twice",
    )
    order.add_argument(
        "--client-reference",
        metavar="REF",
        help="your reference, written into the order's remark (find the order by it)",
    )
    order.add_argument(
        "--currency",
        metavar="CODE",
        help="the settlement currency, e.g. USD (default: the merchant's)",
    )
    order.add_argument(
        "--journal",
        metavar="FILE",
        help="a SQLite file recording each key before and after sending (across runs)",
    )
    _add_connection_options(create, cache=False)


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
