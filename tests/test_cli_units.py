"""In-process tests of the CLI's pieces: arguments, help, JSON shapes, inputs, error advice."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

from hiobuy_async import APIConnectionError, APIError, Failed, ImageQuery, Marketplace, Ok
from hiobuy_async._cli import cli_advice, main
from hiobuy_async._cli._args import CliError, ExitCode, build_parser, parse_args
from hiobuy_async._cli._commands import _new_client, _pacing, _UnreachableGuard, usable_base_url
from hiobuy_async._cli._jsonl import product_dict, search_record
from hiobuy_async._cli._runs import (
    OK,
    PERMANENT,
    RETRYABLE,
    index_output,
    read_inputs,
    repair_output,
)
from hiobuy_async._models import ImageSearchResult, Product
from hiobuy_async.quota import LocalQuota

PRODUCT = Product(num_iid=7, title="Teapot", price=Decimal("21.80"), tags=("a", "b"))
COMMANDS = [
    "image-search",
    "keyword-search",
    "details",
    "search-many",
    "details-many",
    "demo",
    "fake-server",
]


def test_parse_args_search_many_options() -> None:
    argv = "search-many in.txt -p 1688 -c 4 --rate-limit 2.5 --resume -o out.jsonl"
    args = parse_args([*argv.split(), "--filter", "certifiedFactory,new7", "--filter", "x"])

    assert (args.command, args.file, args.platform) == ("search-many", "in.txt", "1688")
    assert (args.concurrency, args.rate_limit, args.resume) == (4, 2.5, True)
    assert args.filters == ["certifiedFactory", "new7", "x"]  # split on commas, repeatable
    assert args.backend == "asyncio"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["search-many", "--concurrency", "0"], "expected an integer >= 1"),
        (["image-search", "x", "--timeout", "-1"], "expected a positive number"),
        (["fake-server", "--port", "70000"], "expected a port number"),
        (["frobnicate"], "invalid choice"),
        (["image-search", "x", "--filter", "a,,b"], "expected comma-separated values"),
        (["keyword-search", "k", "--pages", "2", "--max-items", "3"], "not allowed with"),
        (["keyword-search", "k", "--start", "0:1"], "PAGE >= 1"),
    ],
)
def test_parse_errors_are_one_line_usage_errors(argv: list[str], expected: str) -> None:
    with pytest.raises(CliError) as info:
        parse_args(argv)

    assert info.value.code is ExitCode.USAGE
    assert expected in info.value.message
    assert "\n" not in info.value.message


def _help(*argv: str) -> str:
    parser = build_parser()
    if argv:
        action = next(a for a in parser._actions if a.dest == "command")
        return str(action.choices[argv[0]].format_help())  # type: ignore[index]
    return parser.format_help()


def test_exit_codes_are_in_the_top_level_help_only() -> None:
    assert "exit codes:" in _help()
    assert "130" in _help()
    for command in COMMANDS:
        text = _help(command)
        assert "exit codes:" not in text, command
        assert "HIOBUY_BASE_URL  " not in text, command
        assert "hiobuy-async --help" in text, command


@pytest.mark.parametrize(
    ("command", "present", "absent"),
    [
        ("image-search", ["--platform", "--json"], ["--rate-limit", "--output", "--sort"]),
        ("keyword-search", ["--sort", "--max-items", "--start"], ["--output", "--concurrency"]),
        ("details", ["--platform", "--json"], ["--filter", "--output", "--rate-limit"]),
        ("search-many", ["--redis-quota", "--retry-failed", "--overwrite"], ["--sort", "--json"]),
        ("details-many", ["--quota-key", "--force"], ["--filter", "--sort"]),
        ("fake-server", ["--host", "--latency"], ["--platform", "--timeout", "--demo"]),
    ],
)
def test_each_help_shows_only_its_options(
    command: str, present: list[str], absent: list[str]
) -> None:
    text = _help(command)
    assert all(option in text for option in present)
    assert not any(option in text for option in absent)


def test_product_dict_keeps_price_exact_and_is_json() -> None:
    data = product_dict(PRODUCT)

    assert data["price"] == "21.80"
    assert data["tags"] == ["a", "b"]
    assert json.loads(json.dumps(data)) == data


def test_search_records_for_ok_and_failed() -> None:
    query = ImageQuery("https://example.com/a.jpg", platform=Marketplace.TAOBAO, language="en_US")
    ok = Ok(0, query, ImageSearchResult(items=(PRODUCT,)))
    failed = Failed(1, query, APIError("image cannot be fetched", ret=0, msg="x"))

    assert search_record(ok, line=5, img="https://example.com/a.jpg") == {
        "line": 5,
        "img": "https://example.com/a.jpg",
        "platform": "taobao",
        "language": "en_US",
        "ok": True,
        "error": None,
        "products": [product_dict(PRODUCT)],
    }
    record = search_record(failed, line=6, img="https://example.com/a.jpg")
    assert (record["line"], record["ok"], record["products"]) == (6, False, [])
    assert record["error"] == {
        "type": "APIError",
        "message": "image cannot be fetched",
        "retryable": False,
    }


def test_read_inputs_numbers_lines_as_sed_does(tmp_path: Path) -> None:
    path = tmp_path / "in.txt"
    # A BOM, a comment, a blank line, padding, and a U+2028 that is no line break for sed.
    path.write_text(
        "\ufeff# header\nhttps://a/1.jpg\n\n  https://a/2\u2028x.jpg  \r\n#x\nhttps://a/3.jpg",
        encoding="utf-8",
    )

    inputs = read_inputs(str(path), io.StringIO())

    assert tuple(inputs.lines()) == (
        (2, "https://a/1.jpg"),
        (4, "https://a/2\u2028x.jpg"),
        (6, "https://a/3.jpg"),
    )
    assert (inputs.count, inputs.last_line) == (3, 6)
    assert inputs.size == path.stat().st_size
    inputs.close()
    stdin = read_inputs("-", io.StringIO("https://a/3.jpg\n"))
    assert tuple(stdin.lines()) == ((1, "https://a/3.jpg"),)
    stdin.close()


def test_read_inputs_rejects_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "in.bin"
    path.write_bytes(b"\xff\xfe\x00garbage")

    with pytest.raises(CliError, match="not UTF-8"):
        read_inputs(str(path), io.StringIO())


def test_index_output_drops_torn_last_line_and_ignores_junk(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    header = {"hiobuy_async_run": 1, "command": "search-many"}  # written by 0.1
    good = [
        {"line": 1, "img": "https://a/1.jpg", "ok": True},
        {"line": 3, "img": "https://a/3.jpg", "ok": False, "error": {"type": "ServerError"}},
        {"line": 4, "img": "https://a/4.jpg", "ok": False, "error": {"type": "APIError"}},
        {"line": 99, "img": "https://a/99.jpg", "ok": True},  # past the input's last line
    ]
    text = "".join(json.dumps(r) + "\n" for r in [header, *good])
    path.write_text(text + "not json\n[1, 2]\n" + '{"line": 2, "img": "ht', encoding="utf-8")

    index = index_output(str(path), "img", last_line=4)

    assert index is not None
    assert index.status(1, "https://a/1.jpg") == OK
    assert index.status(1, "https://a/other.jpg") == 0  # a record of another text
    assert index.status(2, "https://a/2.jpg") == 0
    assert index.status(3, "https://a/3.jpg") == RETRYABLE
    assert index.status(4, "https://a/4.jpg") == PERMANENT
    assert index.status(99, "https://a/99.jpg") == 0
    assert path.read_text(encoding="utf-8").endswith('"ht')  # indexing never writes
    repair_output(str(path), index)
    assert path.read_text(encoding="utf-8") == text + "not json\n[1, 2]\n"


def test_index_output_of_missing_or_empty_file_is_none(tmp_path: Path) -> None:
    assert index_output(str(tmp_path / "absent.jsonl"), "img", last_line=1) is None
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    assert index_output(str(tmp_path / "empty.jsonl"), "img", last_line=1) is None


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


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--redis-quota", "redis://127.0.0.1:1/0", "--quota-key", "k"], "needs --rate-limit"),
        (["--redis-quota", "redis://127.0.0.1:1/0", "--rate-limit", "5"], "needs --quota-key"),
        (["--quota-key", "k", "--rate-limit", "5"], "add --redis-quota URL, or set HIOBUY_"),
    ],
    ids=["no-rate", "no-key", "key-alone"],
)
@pytest.mark.parametrize("command", ["search-many", "details-many"])
def test_redis_quota_options_are_checked_together(
    command: str, argv: list[str], expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HIOBUY_REDIS_QUOTA_URL", raising=False)
    with pytest.raises(CliError, match=expected) as info:
        _pacing(parse_args([command, "in.txt", *argv]))
    assert info.value.code is ExitCode.USAGE


def test_rate_limit_alone_paces_without_redis() -> None:
    pacing = _pacing(parse_args(["search-many", "in.txt", "--rate-limit", "5"]))
    assert (pacing.rate_limit, pacing.redis_url) == (5.0, None)


@pytest.mark.parametrize(
    ("listening", "usable"),
    [
        ("http://0.0.0.0:8787", "http://127.0.0.1:8787"),
        ("http://[::]:8787", "http://[::1]:8787"),
        ("http://127.0.0.1:8787", "http://127.0.0.1:8787"),
        ("http://192.168.1.5:80", "http://192.168.1.5:80"),
        ("http://localhost:8787", "http://localhost:8787"),
    ],
)
def test_fake_server_prints_a_loopback_url_for_a_wildcard_host(listening: str, usable: str) -> None:
    assert usable_base_url(listening) == usable


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "base_url 'http://x.example' uses plain http to a non-loopback host, which would "
            "send the uuid in clear; use https, or pass allow_insecure_http=True",
            "--base-url 'http://x.example' uses plain http to a non-loopback host, which would "
            "send the uuid in clear; use https, or pass --allow-insecure-http",
        ),
        ("page_size must be an integer >= 1 <= 50, got 80", "--page-size must be"),
        ("price_min must not be negative, got '-1'", "--price-min must not"),
        ("platform is required: 'taobao' or '1688'", "--platform is required"),
        ("HIOBUY_BASE_URL must not contain credentials", "HIOBUY_BASE_URL must not"),
        ("the platform of the URL", "the platform of the URL"),
    ],
)
def test_sdk_input_errors_name_the_options(message: str, expected: str) -> None:
    assert cli_advice(message).startswith(expected)


def test_cli_error_for_insecure_base_url_gives_cli_advice(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HIOBUY_UUID", "cli-advice-uuid")
    argv = ["image-search", "https://a.example/1.jpg", "-p", "1688"]

    code = main([*argv, "--base-url", "http://api.example.com"])

    err = capsys.readouterr().err
    assert code == ExitCode.USAGE
    assert "--allow-insecure-http" in err
    assert "allow_insecure_http=True" not in err
    assert err.count("\n") == 1


def test_rate_limit_paces_the_whole_client() -> None:
    client = _new_client("cli-uuid", quota=None, rate_limit=5.0)
    assert isinstance(client.quota, LocalQuota)
    assert client.quota.rate == 5.0
    shared = LocalQuota(rate=3)
    assert _new_client("cli-uuid", quota=shared, rate_limit=3.0).quota is shared
