"""`keyword-search`, `details` and `fake-server`, run in-process against the embedded fake."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from helpers import cli

from hiobuy_async._cli import _commands
from hiobuy_async._cli._args import ExitCode
from hiobuy_async.testing import FakeHiobuy

pytestmark = pytest.mark.anyio

KEYWORD = FakeHiobuy.keyword_with_results(45, "lamp")


def jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


async def test_keyword_search_json_lines_over_pages_then_continue_with_start() -> None:
    argv = ("keyword-search", KEYWORD, "--demo", "--page-size", "20", "--json")

    code, out, err = await cli(*argv, "--max-items", "25")

    assert code == ExitCode.OK, err
    first = jsonl(out)
    assert [r["page"] for r in first] == [1] * 20 + [2] * 5
    assert "continue with --start 2:5" in err

    code, out, err = await cli(*argv, "--start", "2:5")

    assert code == ExitCode.OK, err
    rest = jsonl(out)
    assert len(rest) == 15  # the rest of page 2: one page by default
    assert not {r["num_iid"] for r in first} & {r["num_iid"] for r in rest}

    code, out, _ = await cli(*argv, "--pages", "5")
    assert [r["num_iid"] for r in jsonl(out)] == [r["num_iid"] for r in first + rest + jsonl(
        (await cli(*argv, "--start", "3"))[1]
    )]  # fmt: skip


async def test_keyword_search_table_sorted_and_priced() -> None:
    code, out, err = await cli(
        "keyword-search", KEYWORD, "--demo", "--sort", "price-asc", "--price-max", "100",
        "--json",
    )  # fmt: skip

    assert code == ExitCode.OK, err
    prices = [float(r["price"]) for r in jsonl(out)]
    assert prices == sorted(prices)
    assert all(p <= 100 for p in prices)

    code, out, _ = await cli("keyword-search", KEYWORD, "--demo", "--max-items", "3")
    assert code == ExitCode.OK
    assert out.startswith(f"3 products on 1688 for {KEYWORD!r}")


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (("--page-size", "80"), "--page-size must be"),
        (("--price-min", "-1"), "--price-min"),
        (("--sort", "cheapest"), "argument --sort: invalid choice: 'cheapest'"),
    ],
)
def test_keyword_search_sdk_input_errors_name_the_options(
    extra: tuple[str, ...], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from hiobuy_async._cli import main  # noqa: PLC0415

    code = main(["keyword-search", "lamp", "--demo", *extra])

    err = capsys.readouterr().err
    assert code == ExitCode.USAGE, err
    assert err.startswith(f"hiobuy-async: error: {expected}")


async def test_details_of_a_url_infers_the_platform_and_prints_skus() -> None:
    _, out, _ = await cli("image-search", "--demo", "-p", "taobao", "--json")
    hit = json.loads(out)["products"][0]

    code, out, err = await cli("details", hit["detail_url"], "--demo", "--json")

    assert code == ExitCode.OK, err
    data = json.loads(out)
    assert data["num_iid"] == hit["num_iid"]
    assert data["skus"]
    assert all(isinstance(s["price"], str) for s in data["skus"])
    assert "raw" not in data

    code, out, err = await cli("details", str(hit["num_iid"]), "--demo", "-p", "taobao")
    assert code == ExitCode.OK, err
    assert f"Product {hit['num_iid']}" in out
    assert f"{len(data['skus'])} SKUs of {hit['num_iid']}" in out


def test_details_of_an_unknown_id_is_one_line_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    from hiobuy_async._cli import main  # noqa: PLC0415

    code = main(["details", str(FakeHiobuy.unknown_product_id()), "--demo", "-p", "1688"])

    err = capsys.readouterr().err
    assert code == ExitCode.FAILED
    assert err.startswith("hiobuy-async: error: the API refused the call")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("host", "listening", "export"),
    [
        ("0.0.0.0", "http://0.0.0.0:8787", "http://127.0.0.1:8787"),
        ("::", "http://[::]:8787", "http://[::1]:8787"),
    ],
)
async def test_fake_server_on_a_wildcard_host_prints_a_usable_url(
    monkeypatch: pytest.MonkeyPatch, host: str, listening: str, export: str
) -> None:
    # Not bound for real: the test network is loopback only.
    async def serve_forever(
        self: FakeHiobuy, host: str, port: int, on_ready: Callable[[str], object]
    ) -> None:
        on_ready(listening)

    monkeypatch.setattr(FakeHiobuy, "serve_forever", serve_forever)

    code, out, _ = await cli("fake-server", "--host", host, "--port", "8787")

    assert code == ExitCode.OK
    assert f"export HIOBUY_BASE_URL={export}\n" in out
    assert f"listening on {listening}" in out
    assert _commands.usable_base_url(listening) == export
