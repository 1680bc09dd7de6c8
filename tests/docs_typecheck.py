"""`mypy --strict` on every Python block of the docs and the README (`nox -s typing` runs it).

The blocks are found as tests/test_docs.py finds them (pytest-examples) and
written into one directory as modules: a `title="name.py"` block under its
title (other blocks import it), a fragment after the names its prelude binds
(`client`, `fake`), inside a coroutine (it may `await`), any other block as is. Then
mypy checks them with the project's settings, so a reader's type checker
accepts what the pages show.

    python tests/docs_typecheck.py [--keep DIR]
"""

from __future__ import annotations

import re
import sys
import tempfile
import textwrap
from pathlib import Path

from mypy import api

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_docs import EXAMPLES, PRELUDE, ROOT, _id, _mode, _title


def write_blocks(directory: Path) -> dict[Path, str]:
    """Write every block as a module of `directory`; return each file's page and line."""
    where: dict[Path, str] = {}
    for example in EXAMPLES:
        name = _title(example) or "block_" + re.sub(r"\W", "_", _id(example)) + ".py"
        source = example.source
        if _mode(example) == "fragment":  # its statements, in a coroutine after the prelude
            body = textwrap.indent(source, "    ")
            source = f"{PRELUDE}\n\nasync def _fragment() -> None:\n{body}"
        path = directory / name
        path.write_text(source, encoding="utf-8")
        where[path] = _id(example)
    return where


def main(argv: list[str]) -> int:
    """Write the blocks and type-check them; print mypy's report with page:line names."""
    with tempfile.TemporaryDirectory(prefix="docs-blocks-") as scratch:
        directory = Path(argv[argv.index("--keep") + 1]) if "--keep" in argv else Path(scratch)
        directory.mkdir(parents=True, exist_ok=True)
        where = write_blocks(directory)
        out, err, status = api.run(
            ["--config-file", str(ROOT / "pyproject.toml"), *map(str, sorted(where))]
        )
        for path, page in where.items():
            out = re.sub(rf"^\S*{re.escape(path.name)}:", f"{page}: {path.name}:", out, flags=re.M)
        print(out, end="")
        print(err, end="", file=sys.stderr)
        return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
