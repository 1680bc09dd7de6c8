"""Developer tasks: `nox -s tests lint typing docs bench`."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typing"]
nox.options.default_venv_backend = "venv"

TEST_DEPS = [
    "pytest>=8",
    "hypothesis>=6.100",
    "trio>=0.26",
    "rich>=13",
    "orjson>=3.9",
    "fastapi>=0.110",
    "starlette>=0.37",
]


@nox.session
@nox.parametrize("transport", ["httpx", "aiohttp"])
def tests(session: nox.Session, transport: str) -> None:
    """Run the test suite on asyncio and trio, once per default HTTP transport.

    Both runs install the `aiohttp` extra, so the tests written for the
    aiohttp transport run in both; `HIOBUY_TRANSPORT` picks the transport every
    other test gets by default (under trio the SDK always uses httpx's own).
    """
    session.install("-e", ".[aiohttp,redis,dask]", *TEST_DEPS)
    session.run("pytest", *session.posargs, env={"HIOBUY_TRANSPORT": transport})


@nox.session
def lint(session: nox.Session) -> None:
    """Check formatting and lint with ruff."""
    session.install("ruff>=0.6")
    session.run("ruff", "format", "--check", ".")
    session.run("ruff", "check", ".")


@nox.session
def typing(session: nox.Session) -> None:
    """Type-check the package and the tests with mypy --strict."""
    session.install("-e", ".[redis,dask]", "mypy>=1.10", *TEST_DEPS)
    session.run("mypy")


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmarks (not part of the test run): `nox -s bench` (~10 minutes).

    Installs the package with its fast extras plus the raw clients it is
    compared with, then runs the structuring micro-benchmark, the throughput
    runner (loopback server, fresh process per run), the memory check and
    the event-loop stall check (`bench.blocking`, fails above 50 ms).
    Results land in bench/results/ (gitignored). The quick grid runs unless
    `-- --full` is given; other arguments after `--` go to the runner, e.g.
    `--repeats 5`, `--only sdk_search_many,httpx_sharded`.
    """
    session.install(".[fast,aiohttp]", "aiohttp", "httpx-aiohttp", "orjson", "trio")
    args = [arg for arg in session.posargs if arg not in ("--full", "--quick")]
    quick = [] if "--full" in session.posargs else ["--quick"]
    session.run(
        "python", "-m", "bench.structuring", *quick, "--json", "bench/results/structuring.json"
    )
    session.run("python", "-m", "bench.run", *quick, *args)
    session.run("python", "-m", "bench.memory", *quick)
    session.run("python", "-m", "bench.blocking")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation with `mkdocs build --strict`: a broken link or reference fails."""
    session.install(
        "-e",
        ".",
        "mkdocs>=1.6",
        "mkdocs-material>=9.5",
        "mkdocstrings[python]>=0.27",
        "ruff>=0.6",  # lets mkdocstrings format the signatures
    )
    session.run("mkdocs", "build", "--strict", env={"NO_MKDOCS_2_WARNING": "1"})
