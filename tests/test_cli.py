"""The `hiobuy-async` command line, run as a real subprocess against the embedded fake."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import unused_port

from hiobuy_async.testing import FakeHiobuy

SECRET = "s3cret-uuid-never-printed"
UNFETCHABLE = "https://example.com/unfetchable/cat.jpg"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HIOBUY_")}
    env.update(extra)
    return env


def run_cli(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hiobuy_async", *args],
        env=_env() if env is None else env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_demo_prints_products() -> None:
    proc = run_cli("demo")

    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "detail.1688.com/offer/" in proc.stdout  # a product URL from the table
    assert "12 done: 12 ok, 0 failed" in proc.stdout
    assert "SKUs of " in proc.stdout  # the details of the top hit


def test_demo_without_rich_prints_plain_table_and_install_hint() -> None:
    code = (
        "import sys; sys.modules['rich'] = None\n"
        "from hiobuy_async.__main__ import main\n"
        "sys.exit(main(['demo']))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert proc.returncode == 0, proc.stderr
    assert "detail.1688.com/offer/" in proc.stdout
    assert "┃" not in proc.stdout  # no rich box drawing
    assert proc.stderr.count("pip install 'hiobuy-async[cli]'") == 1


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_search_many_demo_writes_one_json_line_per_input(tmp_path: Path, backend: str) -> None:
    images = FakeHiobuy.sample_images()[:4]
    listing = "\n".join(["# images to search", images[0], "", images[1], UNFETCHABLE, *images[2:]])
    (tmp_path / "in.txt").write_text(listing + "\n", encoding="utf-8")
    inputs = [*images[:2], UNFETCHABLE, *images[2:]]

    proc = run_cli(
        "search-many",
        str(tmp_path / "in.txt"),
        "--demo",
        "--backend",
        backend,
        "--output",
        str(tmp_path / "out.jsonl"),
    )

    assert proc.returncode == 1, proc.stderr  # one input failed
    assert "5 done: 4 ok, 1 failed" in proc.stderr
    lines = read_jsonl(tmp_path / "out.jsonl")
    run = json.loads((tmp_path / "out.jsonl.run.json").read_text(encoding="utf-8"))
    assert run["command"] == "search-many"
    records = sorted(lines, key=lambda r: r["line"])
    assert [(r["line"], r["img"]) for r in records] == list(
        zip([2, 4, 5, 6, 7], inputs, strict=True)
    )
    for record in records:
        assert set(record) == {"line", "img", "platform", "language", "ok", "error", "products"}
        if record["img"] == UNFETCHABLE:
            assert record["ok"] is False
            assert record["error"]["type"] == "APIError"
            assert "cannot be fetched" in record["error"]["message"]
            assert record["products"] == []
        else:
            assert record["ok"] is True
            assert record["error"] is None
            assert record["products"]
            assert all(isinstance(p["price"], str) for p in record["products"])


def test_search_many_reads_stdin_and_writes_stdout() -> None:
    images = FakeHiobuy.sample_images()[:3]

    proc = run_cli("search-many", "-", "--demo", stdin="\n".join(images))

    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert sorted(r["img"] for r in records) == sorted(images)


@pytest.mark.parametrize(
    ("args", "env", "code", "expected"),
    [
        pytest.param(
            ["image-search", "https://example.com/a.jpg", "--platform", "1688"],
            {},
            2,
            "no uuid",
            id="missing-uuid",
        ),
        pytest.param(
            ["image-search", "https://example.com/a.jpg", "-p", "taobao", "-l", "ko_KR"],
            {"HIOBUY_UUID": SECRET},
            2,
            "language 'ko_KR' is not supported on taobao",
            id="bad-locale",
        ),
        pytest.param(
            ["search-many", "-p", "ebay"],
            {"HIOBUY_UUID": SECRET},
            2,
            "unknown platform 'ebay'",
            id="bad-platform",
        ),
        pytest.param(
            ["search-many", "/nonexistent/urls.txt", "-p", "1688"],
            {"HIOBUY_UUID": SECRET},
            2,
            "cannot read /nonexistent/urls.txt",
            id="bad-file",
        ),
        pytest.param(
            ["search-many", "--concurrency", "0", "--demo"],
            {},
            2,
            "expected an integer >= 1",
            id="bad-option",
        ),
        pytest.param(
            ["image-search", "https://example.com/a.jpg", "-p", "1688", "--max-retries", "0"],
            {"HIOBUY_UUID": SECRET},
            3,
            "cannot reach the server at http://127.0.0.1:",
            id="unreachable",
        ),
    ],
)
def test_bad_input_gives_one_line_error(
    args: list[str], env: dict[str, str], code: int, expected: str
) -> None:
    env = _env(**env, HIOBUY_BASE_URL=f"http://127.0.0.1:{unused_port()}")

    proc = run_cli(*args, env=env, stdin="")

    assert proc.returncode == code
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("hiobuy-async: error: ")
    assert proc.stderr.count("\n") == 1
    assert expected in proc.stderr
    assert SECRET not in proc.stderr + proc.stdout


def test_search_many_against_unreachable_server_stops_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("\n".join(FakeHiobuy.sample_images()), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    env = _env(HIOBUY_UUID=SECRET, HIOBUY_BASE_URL=f"http://127.0.0.1:{unused_port()}")

    proc = run_cli("search-many", str(tmp_path / "in.txt"), "-p", "1688", "-o", str(out), env=env)

    assert proc.returncode == 3
    assert proc.stderr.startswith("hiobuy-async: error: cannot reach the server")
    assert proc.stderr.count("\n") == 1
    # Nothing recorded, so a later --resume searches every input.
    assert read_jsonl(out) == []
    run = json.loads(Path(f"{out}.run.json").read_text(encoding="utf-8"))
    assert run["command"] == "search-many"


def test_image_search_demo_json_parses() -> None:
    proc = run_cli("image-search", "--demo", "--json", "--platform", "taobao")

    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["platform"] == "taobao"
    assert data["img"] == FakeHiobuy.sample_images()[0]
    assert data["products"]
    assert all(isinstance(p["price"], str) for p in data["products"])
    assert all("item.taobao.com" in p["detail_url"] for p in data["products"])


def test_help_documents_exit_codes_once() -> None:
    proc = run_cli("--help")

    assert proc.returncode == 0
    assert proc.stdout.count("exit codes:") == 1
    assert "130" in proc.stdout


def test_version_is_0_2_0_as_in_pyproject_and_the_changelog() -> None:
    # 0.1.0 was printed while the CHANGELOG's large "Unreleased" section shipped under it.
    import re  # noqa: PLC0415 - only this test reads the project's metadata
    import tomllib  # noqa: PLC0415

    root = Path(__file__).parent.parent
    declared = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    released = re.findall(r"^## \[(\d[^\]]*)\]", (root / "CHANGELOG.md").read_text("utf-8"), re.M)
    proc = run_cli("--version")

    assert proc.returncode == 0, proc.stderr
    # A stale editable install still says the old version: reinstall (`pip install -e .`).
    assert proc.stdout == "hiobuy-async 0.2.0\n"
    assert declared["version"] == "0.2.0"
    assert released[0] == "0.2.0"


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT delivery differs on Windows")
def test_fake_server_serves_other_processes_until_ctrl_c() -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "hiobuy_async", "fake-server", "--port", "0", "--uuid", "u-1"],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        banner = server.stdout.readline()
        base_url = banner.split()[4]
        assert base_url.startswith("http://127.0.0.1:")

        proc = run_cli(
            "image-search",
            FakeHiobuy.sample_images()[1],
            "-p",
            "1688",
            "--json",
            env=_env(HIOBUY_UUID="u-1", HIOBUY_BASE_URL=base_url),
        )
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["products"]

        refused = run_cli(
            "image-search",
            FakeHiobuy.sample_images()[1],
            "-p",
            "1688",
            env=_env(HIOBUY_UUID="wrong-uuid", HIOBUY_BASE_URL=base_url),
        )
        assert refused.returncode == 3
        assert refused.stderr.startswith("hiobuy-async: error: the server refused the uuid")
        assert "wrong-uuid" not in refused.stderr
    finally:
        server.send_signal(signal.SIGINT)
        _, err = server.communicate(timeout=10)
    assert server.returncode == 0
    assert "Traceback" not in err


def test_missing_uuid_leaves_existing_output_untouched(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text('{"index": 0, "img": "https://example.com/a.jpg"}\n', encoding="utf-8")
    before = out.read_text(encoding="utf-8")

    proc = run_cli(
        "search-many",
        "-p",
        "1688",
        "-o",
        str(out),
        "--overwrite",
        stdin="https://example.com/a.jpg",
    )

    assert proc.returncode == 2
    assert proc.stderr.startswith("hiobuy-async: error: no uuid")
    assert out.read_text(encoding="utf-8") == before
