"""Developer tasks: `nox -s tests lint typing docs bench`."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typing"]
nox.options.default_venv_backend = "venv"

TEST_DEPS = ["pytest>=8", "trio>=0.26", "rich>=13", "fastapi>=0.110", "starlette>=0.37"]


@nox.session
@nox.parametrize("transport", ["httpx", "aiohttp"])
def tests(session: nox.Session, transport: str) -> None:
    """Run the test suite on asyncio and trio, on each HTTP transport.

    With `transport="aiohttp"` the `aiohttp` extra is installed, so the SDK's
    default transport is httpx-aiohttp under asyncio (trio keeps httpx's).
    """
    extras = ".[aiohttp]" if transport == "aiohttp" else "."
    session.install("-e", extras, *TEST_DEPS)
    if transport == "httpx":
        session.run("python", "-m", "pip", "uninstall", "--yes", "--quiet", "httpx-aiohttp")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Check formatting and lint with ruff."""
    session.install("ruff>=0.6")
    session.run("ruff", "format", "--check", ".")
    session.run("ruff", "check", ".")


@nox.session
def typing(session: nox.Session) -> None:
    """Type-check the package and the tests with mypy --strict."""
    session.install("-e", ".", "mypy>=1.10", *TEST_DEPS)
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation with `mkdocs build --strict`: a broken link or reference fails."""
    session.install("-e", ".", "mkdocs>=1.6", "mkdocs-material>=9.5", "mkdocstrings[python]>=0.27")
    session.run("mkdocs", "build", "--strict", env={"NO_MKDOCS_2_WARNING": "1"})
