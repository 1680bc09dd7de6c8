"""In-process tests of the CLI's pieces: argument parsing, JSON shapes, resume bookkeeping."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

from hiobuy_async import APIConnectionError, APIError, Failed, ImageQuery, Ok
from hiobuy_async._cli._args import CliError, ExitCode, parse_args
from hiobuy_async._cli._commands import _UnreachableGuard
from hiobuy_async._cli._jsonl import (
    load_finished,
    outcome_record,
    product_dict,
    read_inputs,
)
from hiobuy_async._models import ImageSearchResult, Product

PRODUCT = Product(num_iid=7, title="Teapot", price=Decimal("21.80"), tags=("a", "b"))


def test_parse_args_search_many_options() -> None:
    argv = "search-many in.txt -p 1688 -c 4 --rate-limit 2.5 --resume -o out.jsonl"
    args = parse_args([*argv.split(), "--filter", "certifiedFactory", "--filter", "new7"])

    assert (args.command, args.file, args.platform) == ("search-many", "in.txt", "1688")
    assert (args.concurrency, args.rate_limit, args.resume) == (4, 2.5, True)
    assert args.filters == ["certifiedFactory", "new7"]
    assert args.backend == "asyncio"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["search-many", "--concurrency", "0"], "expected an integer >= 1"),
        (["image-search", "x", "--timeout", "-1"], "expected a positive number"),
        (["fake-server", "--port", "70000"], "expected a port number"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_parse_errors_are_one_line_usage_errors(argv: list[str], expected: str) -> None:
    with pytest.raises(CliError) as info:
        parse_args(argv)

    assert info.value.code is ExitCode.USAGE
    assert expected in info.value.message
    assert "\n" not in info.value.message


def test_product_dict_keeps_price_exact_and_is_json() -> None:
    data = product_dict(PRODUCT)

    assert data["price"] == "21.80"
    assert data["tags"] == ["a", "b"]
    assert json.loads(json.dumps(data)) == data


def test_outcome_records_for_ok_and_failed() -> None:
    query = ImageQuery("https://example.com/a.jpg", platform="1688")
    ok = Ok(0, query, ImageSearchResult(items=(PRODUCT,)))
    failed = Failed(1, query, APIError("image cannot be fetched", ret=0, msg="x"))

    assert outcome_record(ok, index=5) == {
        "index": 5,
        "img": "https://example.com/a.jpg",
        "ok": True,
        "error": None,
        "products": [product_dict(PRODUCT)],
    }
    record = outcome_record(failed, index=6)
    assert (record["index"], record["ok"], record["products"]) == (6, False, [])
    assert record["error"] == {"type": "APIError", "message": "image cannot be fetched"}


def test_read_inputs_skips_blank_lines_and_comments(tmp_path: Path) -> None:
    path = tmp_path / "in.txt"
    path.write_text(
        "\ufeff# header\nhttps://a/1.jpg\n\n  https://a/2.jpg  \n#x\n", encoding="utf-8"
    )

    assert read_inputs(str(path), io.StringIO()) == ["https://a/1.jpg", "https://a/2.jpg"]
    assert read_inputs("-", io.StringIO("https://a/3.jpg\n")) == ["https://a/3.jpg"]


def test_read_inputs_rejects_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "in.bin"
    path.write_bytes(b"\xff\xfe\x00garbage")

    with pytest.raises(CliError, match="not UTF-8"):
        read_inputs(str(path), io.StringIO())


def test_load_finished_drops_torn_last_line_and_ignores_junk(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    good = [{"index": 0, "img": "https://a/1.jpg"}, {"index": 2, "img": "https://a/3.jpg"}]
    text = "".join(json.dumps(r) + "\n" for r in good)
    path.write_text(text + "not json\n[1, 2]\n" + '{"index": 1, "img": "ht', encoding="utf-8")

    finished = load_finished(str(path))

    assert finished == {(0, "https://a/1.jpg"), (2, "https://a/3.jpg")}
    assert path.read_text(encoding="utf-8") == text + "not json\n[1, 2]\n"


def test_load_finished_of_missing_file_is_empty(tmp_path: Path) -> None:
    assert load_finished(str(tmp_path / "absent.jsonl")) == set()


def test_unreachable_guard_holds_connection_failures_until_the_server_answers() -> None:
    query = ImageQuery("https://example.com/a.jpg")
    down = Failed(0, query, APIConnectionError("connection failed"))
    up = Ok(1, query, ImageSearchResult(items=()))
    guard = _UnreachableGuard(threshold=3, base_url="http://127.0.0.1:1")

    assert guard.check(down, {"n": 0}) == []
    assert guard.check(up, {"n": 1}) == [{"n": 0}, {"n": 1}]
    assert guard.check(down, {"n": 2}) == [{"n": 2}]  # the server is up: failures are items'


def test_unreachable_guard_stops_the_batch_at_the_threshold() -> None:
    down = Failed(0, ImageQuery("https://example.com/a.jpg"), APIConnectionError("refused"))
    guard = _UnreachableGuard(threshold=2, base_url="http://127.0.0.1:1")

    assert guard.check(down, {}) == []
    with pytest.raises(CliError) as info:
        guard.check(down, {})
    assert info.value.code is ExitCode.CONNECTION
    assert "cannot reach the server at http://127.0.0.1:1" in info.value.message
