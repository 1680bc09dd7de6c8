"""Issue #13, command line: hostile server text, and an output that is its own input."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import unused_port

ROOT = Path(__file__).resolve().parent.parent
UUID = "hostile-cli-uuid"
IMAGES = [f"https://img.example.com/hostile/{n}.jpg" for n in range(3)]

SURROGATE = "lone \ud800 surrogate"
# What the SDK hands over for it: the decoder replaces a lone surrogate.
REPAIRED = "lone \ufffd surrogate"
MARKUP = ["[/]", "[link=https://evil.example/]click me[/link]", "[bold red]loud[/]"]
CONTROLS = [
    "\x1b]0;pwned window title\x07",
    "\x1b[1A\x1b[2Kforged line",
    "\x9b31mC1 CSI",
    "bell\x07 and del\x7f",
    "\u202eevil bidi override",
    "new\nline and tab\tand cr\r",
]
# What must never reach a terminal from the server: ESC, BEL, CR/LF inside a
# cell, DEL, C1 and bidi overrides (and no lone surrogate, which no terminal
# encoding can carry).
FORBIDDEN = ["\x1b", "\x07", "\x7f", "\x9b", "\u202e", "\ud800", "\r"]


def _body(titles: list[str]) -> bytes:
    items = [
        {
            "num_iid": 1000 + n,
            "title": title,
            "pic_url": f"https://img.example.com/p/{n}.jpg",
            "price": "9.90",
            "detail_url": f"https://item.example.com/{n}?{title}",
        }
        for n, title in enumerate(titles)
    ]
    data = {"api_type": "taobao", "items": {"item": items, "total_results": len(items)}}
    # ensure_ascii: the lone surrogate travels as the JSON escape "\ud800".
    return json.dumps({"ret": 1, "msg": "success", "data": data}).encode()


class _Server(http.server.ThreadingHTTPServer):
    body = b""


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        assert isinstance(self.server, _Server)
        body = self.server.body
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def hostile() -> Iterator[_Server]:
    """A loopback HTTP server answering every search with `server.body`."""
    server = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _cli(
    server: _Server | None,
    *args: str,
    rich: bool = True,
    encoding: str | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HIOBUY_", "PYTHONIO"))}
    env["PYTHONPATH"] = str(ROOT)
    env["HIOBUY_UUID"] = UUID
    # No server: a closed loopback port, so nothing ever leaves the machine.
    port = unused_port() if server is None else server.server_address[1]
    env["HIOBUY_BASE_URL"] = f"http://127.0.0.1:{port}"
    if encoding is not None:
        env["PYTHONIOENCODING"] = encoding
    # Without the `fast` extra, as most CLI users run it.
    blocked = ["orjson"] if rich else ["orjson", "rich"]
    code = (
        "import sys\n"
        + "".join(f"sys.modules[{name!r}] = None\n" for name in blocked)
        + "from hiobuy_async.__main__ import main\nsys.exit(main(sys.argv[1:]))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="surrogateescape",
        timeout=60,
        check=False,
    )


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# -- point 6: a lone surrogate in server text -------------------------------------


@pytest.mark.parametrize("rich", [True, False], ids=["rich", "plain"])
@pytest.mark.parametrize("encoding", [None, "ascii"], ids=["utf8", "ascii"])
def test_point06_lone_surrogate_never_crashes_terminal_output(
    hostile: _Server, rich: bool, encoding: str | None
) -> None:
    hostile.body = _body([SURROGATE, "普通の商品"])
    done = _cli(hostile, "image-search", IMAGES[0], "-p", "taobao", rich=rich, encoding=encoding)
    assert done.returncode == 0, done.stderr
    assert "lone" in done.stdout
    assert "surrogate" in done.stdout
    assert "PYTHONIOENCODING" not in done.stderr
    for char in FORBIDDEN:
        assert char not in done.stdout


@pytest.mark.parametrize("encoding", [None, "ascii"], ids=["utf8", "ascii"])
def test_point06_lone_surrogate_json_output_is_valid_and_lossless(
    hostile: _Server, encoding: str | None
) -> None:
    hostile.body = _body([SURROGATE, "普通の商品"])
    done = _cli(hostile, "image-search", IMAGES[0], "-p", "taobao", "--json", encoding=encoding)
    assert done.returncode == 0, done.stderr
    titles = [p["title"] for p in json.loads(done.stdout)["products"]]
    assert titles == [REPAIRED, "普通の商品"]


def test_point06_lone_surrogate_search_many_output_and_resume(
    hostile: _Server, tmp_path: Path
) -> None:
    hostile.body = _body([SURROGATE])
    inputs = tmp_path / "urls.txt"
    inputs.write_text("\n".join(IMAGES[:2]) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    args = ("search-many", str(inputs), "-p", "taobao", "--output", str(out))

    first = _cli(hostile, *args)
    assert first.returncode == 0, first.stderr
    out.read_bytes().decode("utf-8")  # valid UTF-8 throughout
    records = _lines(out)
    assert sorted(r["line"] for r in records) == [1, 2]
    assert all(r["products"][0]["title"] == REPAIRED for r in records)

    # A third input: --resume reads the first two back and searches only it.
    inputs.write_text("\n".join(IMAGES) + "\n", encoding="utf-8")
    again = _cli(hostile, *args, "--resume")
    assert again.returncode == 0, again.stderr
    assert "2 skipped" in again.stderr
    assert sorted(r["line"] for r in _lines(out)) == [1, 2, 3]

    # And to stdout too.
    piped = _cli(hostile, "search-many", str(inputs), "-p", "taobao")
    assert piped.returncode == 0, piped.stderr
    assert len([json.loads(line) for line in piped.stdout.splitlines()]) == 3


# -- point 7: server text is neither markup nor terminal control -------------------


@pytest.mark.parametrize("rich", [True, False], ids=["rich", "plain"])
def test_point07_server_text_is_not_markup_or_escape_sequences(
    hostile: _Server, rich: bool
) -> None:
    hostile.body = _body([*MARKUP, *CONTROLS])
    done = _cli(hostile, "image-search", IMAGES[0], "-p", "taobao", rich=rich)
    assert done.returncode == 0, done.stderr
    for text in MARKUP:
        assert text in done.stdout  # shown literally, not interpreted
    for char in FORBIDDEN:
        assert char not in done.stdout
    assert "\\x1b]0;pwned window title" in done.stdout  # escaped, visible
    assert "\\u202eevil bidi override" in done.stdout
    # One line per product: an embedded newline cannot forge a row.
    assert not any(line.startswith("line and tab") for line in done.stdout.splitlines())


# A guard rather than a regression: error messages were already made printable
# by sanitise_excerpt; the error line is neutralised again on the way out.
def test_point07_server_text_in_error_lines_is_neutralised(hostile: _Server) -> None:
    msg = "\x1b[2J\x1b]0;owned\x07[/] refused"
    hostile.body = json.dumps({"ret": 0, "msg": msg}).encode()
    done = _cli(hostile, "image-search", IMAGES[0], "-p", "taobao")
    assert done.returncode == 1, done.stderr
    assert "refused" in done.stderr
    for char in FORBIDDEN:
        assert char not in done.stderr


# -- point 8: search-many F --output F ----------------------------------------------


@pytest.mark.parametrize("resume", [False, True], ids=["replace", "resume"])
@pytest.mark.parametrize("how", ["same", "symlink", "hardlink", "relative", "stdin"])
def test_point08_output_that_is_the_input_is_refused(
    tmp_path: Path, resume: bool, how: str
) -> None:
    inputs = tmp_path / "urls.txt"
    text = "\n".join(IMAGES)  # no trailing newline, as in the issue
    inputs.write_text(text, encoding="utf-8")
    output = {
        "same": inputs,
        "symlink": tmp_path / "link.jsonl",
        "hardlink": tmp_path / "hard.jsonl",
        "relative": tmp_path / "sub" / ".." / "urls.txt",
        "stdin": inputs,
    }[how]
    (tmp_path / "sub").mkdir()
    if how == "symlink":
        output.symlink_to(inputs)
    elif how == "hardlink":
        os.link(inputs, output)
    source = "-" if how == "stdin" else str(inputs)
    args = ["search-many", source, "-p", "taobao", "--output", str(output)]
    if resume:
        args.append("--resume")
    if how == "stdin":
        with inputs.open(encoding="utf-8") as stdin:
            done = subprocess.run(
                [sys.executable, "-m", "hiobuy_async", *args],
                env={
                    **os.environ,
                    "PYTHONPATH": str(ROOT),
                    "HIOBUY_UUID": UUID,
                    "HIOBUY_BASE_URL": f"http://127.0.0.1:{unused_port()}",
                },
                stdin=stdin,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
    else:
        done = _cli(None, *args)
    assert done.returncode == 2, done.stderr
    assert "same file" in done.stderr
    assert inputs.read_text(encoding="utf-8") == text
