"""`preview-order FILE` and `create-order FILE`, and the exit code of an unknown outcome."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import anyio.from_thread
import pytest
from test_endpoint_create_order import mapping_order

from hiobuy_async._cli import main
from hiobuy_async._cli._args import ExitCode
from hiobuy_async.testing import FakeHiobuy, Fault

PERSONAL = ("Han Meimei", "88 Secret Lane", "13912345678")


@pytest.fixture
def served() -> Iterator[tuple[FakeHiobuy, str]]:
    """A FakeHiobuy served on 127.0.0.1 from another thread (`main()` runs its own loop)."""
    fake = FakeHiobuy()
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        portal.wrap_async_context_manager(fake.serve()) as base_url,
    ):
        yield fake, base_url


def order_file(tmp_path: Path) -> str:
    order = mapping_order()
    order["address"] = {
        "receiver_name": "Han Meimei",
        "address": "88 Secret Lane, Room 1702",
        "phone": "13912345678",
    }
    path = tmp_path / "order.json"
    path.write_text(json.dumps(order, ensure_ascii=False), encoding="utf-8")
    return str(path)


def run(capsys: pytest.CaptureFixture[str], base_url: str, *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--uuid", FakeHiobuy.DEFAULT_UUID, "--base-url", base_url])
    out, err = capsys.readouterr()
    return code, out, err


def test_create_order_prints_the_submission_and_sends_the_currency(
    served: tuple[FakeHiobuy, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake, base_url = served
    code, out, err = run(
        capsys,
        base_url,
        "create-order",
        order_file(tmp_path),
        "--idempotency-key",
        "cli-1",
        "--client-reference",
        "shop-1",
        "--currency",
        "usd",
    )
    assert code == ExitCode.OK, err
    assert json.loads(out) == {
        "idempotency_key": "cli-1",
        "client_reference": "shop-1",
        "request_id": fake.orders[0].request_id,
        "data": {"fake_order_no": "FAKE000001"},
    }
    assert (fake.orders[0].currency, fake.orders[0].remark) == ("USD", "shop-1")
    # The address mapping went as given.
    assert fake.orders[0].body["address"]["receiver_name"] == "Han Meimei"


def test_an_unknown_outcome_has_its_own_exit_code_and_the_journal_refuses_a_rerun(
    served: tuple[FakeHiobuy, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake, base_url = served
    fake.fail_matching(endpoint="create_order", fault=Fault.reset())
    argv = (
        "create-order",
        order_file(tmp_path),
        "--idempotency-key",
        "cli-2",
        "--client-reference",
        "shop-2",
        "--journal",
        str(tmp_path / "orders.sqlite"),
    )
    code, out, err = run(capsys, base_url, *argv)
    assert code == ExitCode.OUTCOME_UNKNOWN
    assert int(code) == 6
    assert out == ""
    assert "may or may not have been placed" in err
    assert "cli-2" in err
    assert "shop-2" in err
    assert len(fake.orders) == 1  # it was placed; its answer was lost
    # Run again (a retry loop, a cron job): nothing is sent, the same exit code.
    sent = len(fake.requests)
    code, _, err = run(capsys, base_url, *argv)
    assert code == ExitCode.OUTCOME_UNKNOWN
    assert len(fake.requests) == sent
    assert len(fake.orders) == 1
    assert all(secret not in err for secret in PERSONAL)


def test_preview_order_prints_exact_fees(
    served: tuple[FakeHiobuy, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hiobuy_async.testing._catalog import product, skus  # noqa: PLC0415

    fake, base_url = served
    item = product(612345678901, "1688")
    assert item is not None
    sku = skus(item)[0]
    path = tmp_path / "preview.json"
    path.write_text(
        json.dumps(
            {
                "platform": "1688",
                "lines": [
                    {"goods_id": item.num_iid, "sku_id": sku.sku_id, "quantity": 2, "spec_id": "0"}
                ],
                "address": {
                    "receiver_name": "Han Meimei",
                    "postcode": "200000",
                    "province": "Shanghai",
                    "city": "Shanghai",
                    "district": "Pudong",
                    "address": "88 Secret Lane",
                    "phone": "13912345678",
                },
            }
        ),
        encoding="utf-8",
    )
    code, out, err = run(capsys, base_url, "preview-order", str(path))
    assert code == ExitCode.OK, err
    document = json.loads(out)
    cents = sku.price_cents * 2
    assert document["goods_fee"].rstrip("0").rstrip(".") == (
        f"{cents // 100}.{cents % 100:02d}".rstrip("0").rstrip(".")
    )
    assert isinstance(document["is_free"], bool)
    assert fake.requests[-1].endpoint == "preview_order"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must hold a JSON object"),
        ('{"platform": "1688", "lines": [], "address": {}, "extra": 1}', "unknown fields: extra"),
        (
            '{"platform": "1688", "lines": [{"goods_id": 1, "sku_id": 2, "spec_id": "0"}],'
            ' "address": {"receiver_name": "Han Meimei", "phone": "13912345678"}}',
            "address.postcode",
        ),
    ],
)
def test_a_bad_preview_file_is_a_usage_error_that_quotes_no_address(
    content: str,
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    code = main(["preview-order", str(path), "--uuid", "u", "--base-url", "http://127.0.0.1:9"])
    _, err = capsys.readouterr()
    assert code == ExitCode.USAGE
    assert message in err
    assert all(secret not in err for secret in PERSONAL)


def test_a_missing_order_field_is_a_usage_error_before_any_request(
    served: tuple[FakeHiobuy, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake, base_url = served
    order = mapping_order()
    del order["warehouse_id"]
    order["address"] = {"receiver_name": "Han Meimei"}
    path = tmp_path / "order.json"
    path.write_text(json.dumps(order), encoding="utf-8")
    code, _, err = run(capsys, base_url, "create-order", str(path))
    assert code == ExitCode.USAGE
    assert "warehouse_id" in err
    assert fake.requests == []
