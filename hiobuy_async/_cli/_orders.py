# SPDX-License-Identifier: MIT
"""`preview-order FILE` and `create-order FILE`: the write side on the command line.

FILE is JSON (`-` reads stdin). Both print one JSON document on stdout.
`create-order` sends the order at most once per `--idempotency-key`; when
its outcome is unknown it exits with its own code (`ExitCode.OUTCOME_UNKNOWN`)
and says which key to look up. An address is personal data: no message here
quotes one.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import IO, TYPE_CHECKING, Any

from .._client import AsyncHiobuy
from .._models import Address, OrderLine, OrderPreview, OrderSubmission
from ._args import CliError, ExitCode
from ._jsonl import dumps, needs_ascii
from ._setup import Streams, _check_credentials, _make_fake

if TYPE_CHECKING:
    from ._render import Renderer

__all__ = ["create_order", "preview_order", "read_json"]

_ADDRESS_FIELDS = (
    "receiver_name",
    "postcode",
    "province",
    "city",
    "district",
    "address",
    "phone",
    "street",
)
_LINE_FIELDS = ("goods_id", "sku_id", "quantity", "sum", "spec_id")
MAX_FILE_BYTES = 4 * 1024 * 1024
"""The largest order file read."""


def read_json(path: str, stdin: IO[str]) -> Mapping[str, Any]:
    """Read a JSON object from `path` (`-`: standard input).

    Args:
        path: The file.
        stdin: Standard input.

    Returns:
        The object.

    Raises:
        CliError: The file cannot be read, is too large, or is not a JSON object.
    """
    try:
        if path == "-":
            text = stdin.read(MAX_FILE_BYTES + 1)
        else:
            with open(path, encoding="utf-8") as file:
                text = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CliError(f"{path} is not UTF-8 text") from None
    if len(text) > MAX_FILE_BYTES:
        raise CliError(f"{path} is larger than {MAX_FILE_BYTES} bytes")
    try:
        document = json.loads(text)
    except ValueError as exc:
        # The position only: the text may hold an address.
        line = getattr(exc, "lineno", "?")
        raise CliError(f"{path} is not valid JSON (line {line})") from None
    if not isinstance(document, dict):
        raise CliError(f"{path} must hold a JSON object")
    return document


def _address(value: object) -> Address:
    if not isinstance(value, Mapping):
        raise CliError(
            "address must be a JSON object with receiver_name, postcode, province, "
            "city, district, address, phone (and optionally street)"
        )
    unknown = sorted(str(key) for key in value if key not in _ADDRESS_FIELDS)
    if unknown:
        raise CliError(f"address has unknown fields: {', '.join(unknown)}")
    fields = {key: value.get(key) for key in _ADDRESS_FIELDS}
    return Address(**fields)  # type: ignore[arg-type]  # checked by preview_order


def _lines(value: object) -> list[OrderLine]:
    if not isinstance(value, list):
        raise CliError("lines must be a JSON array of {goods_id, sku_id, quantity, spec_id}")
    lines = []
    for index, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise CliError(f"lines[{index}] must be a JSON object")
        unknown = sorted(str(key) for key in item if key not in _LINE_FIELDS)
        if unknown:
            raise CliError(f"lines[{index}] has unknown fields: {', '.join(unknown)}")
        quantity = item.get("quantity", item.get("sum", 1))
        if isinstance(quantity, str) and quantity.strip().isdigit():
            quantity = int(quantity)
        lines.append(
            OrderLine(
                goods_id=item.get("goods_id"),  # type: ignore[arg-type]  # checked by preview_order
                sku_id=item.get("sku_id"),  # type: ignore[arg-type]
                quantity=quantity,
                spec_id=item.get("spec_id"),
            )
        )
    return lines


@asynccontextmanager
async def _client(args: argparse.Namespace, **options: Any) -> AsyncIterator[AsyncHiobuy]:
    """The client: for the real API, or for the embedded fake server (`--demo`)."""
    uuid = _check_credentials(args)
    options.update(timeout=args.timeout, max_retries=args.max_retries)
    async with AsyncExitStack() as stack:
        if args.demo:
            fake = _make_fake()
            base_url = await stack.enter_async_context(fake.serve())
            client = AsyncHiobuy(fake.DEFAULT_UUID, base_url=base_url, **options)
        else:
            client = AsyncHiobuy(
                uuid,
                base_url=args.base_url,
                allow_insecure_http=args.allow_insecure_http,
                **options,
            )
        yield await stack.enter_async_context(client)


def _print(document: object, streams: Streams) -> None:
    text = dumps(document, indent=2, ascii_only=needs_ascii(streams.stdout))
    print(text, file=streams.stdout, flush=True)


def preview_dict(preview: OrderPreview) -> dict[str, Any]:
    """Render a preview as JSON-ready data: amounts as decimal strings (exact).

    Args:
        preview: The preview.

    Returns:
        The data.
    """

    def text(amount: object) -> str | None:
        return None if amount is None else str(amount)

    return {
        "goods_fee": text(preview.goods_fee),
        "payment_fee": text(preview.payment_fee),
        "freight_fee": text(preview.freight_fee),
        "is_free": preview.is_free,
        "request_id": preview.request_id,
    }


def submission_dict(submission: OrderSubmission) -> dict[str, Any]:
    """Render a submission as JSON-ready data.

    Args:
        submission: The submission.

    Returns:
        The data: the key, the reference, the request id and `data` as it came.
    """
    return {
        "idempotency_key": submission.idempotency_key,
        "client_reference": submission.client_reference,
        "request_id": submission.request_id,
        "data": json.loads(json.dumps(dict(submission.data), default=str)),
    }


async def preview_order(args: argparse.Namespace, streams: Streams, renderer: Renderer) -> int:
    """Run `preview-order FILE`: the fees of an order, as JSON.

    Args:
        args: The parsed command line.
        streams: The standard streams.
        renderer: The terminal output (unused: the answer is JSON).

    Returns:
        The exit code.
    """
    document = read_json(args.file, streams.stdin)
    unknown = sorted(str(key) for key in document if key not in ("platform", "lines", "address"))
    if unknown:
        raise CliError(f"{args.file} has unknown fields: {', '.join(unknown)}")
    lines = _lines(document.get("lines"))
    address = _address(document.get("address"))
    async with _client(args) as client:
        preview = await client.preview_order(
            platform=document.get("platform"),  # type: ignore[arg-type]  # checked by the SDK
            lines=lines,
            address=address,
        )
    _print(preview_dict(preview), streams)
    return ExitCode.OK


async def create_order(args: argparse.Namespace, streams: Streams, renderer: Renderer) -> int:
    """Run `create-order FILE`: submit the order, at most once per idempotency key.

    Args:
        args: The parsed command line.
        streams: The standard streams.
        renderer: The terminal output (unused: the answer is JSON).

    Returns:
        The exit code (`OUTCOME_UNKNOWN` when the order may or may not exist:
        the error, raised, carries it).
    """
    document = read_json(args.file, streams.stdin)  # the address is sent as given
    options: dict[str, Any] = {"currency": args.currency}
    if args.journal is not None:
        options["order_journal"] = args.journal
    async with _client(args, **options) as client:
        submission = await client.create_order(
            document,
            idempotency_key=args.idempotency_key,
            client_reference=args.client_reference,
        )
    _print(submission_dict(submission), streams)
    return ExitCode.OK
