"""mkdocs hooks: the site's changelog page, and code fences the tests annotate.

On the repository, docs/changelog.md is a link to that file; the site cannot
link outside its docs, so it shows the file's text instead.

The docs' code fences carry `test="..."` (and `reason="..."`) for
tests/test_docs.py (pytest-examples reads them); pymdownx.superfences does not
know those options and would not see such a block as code at all (its `#>`
output lines became headings), so the site drops them from the fence line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

CHANGELOG = Path(__file__).resolve().parent / "CHANGELOG.md"
_TEST_OPTIONS = re.compile(r'^(\s*```\S+.*?)\s+(?:test|reason)="[^"]*"', re.MULTILINE)


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """Replace the changelog page's text with CHANGELOG.md.

    Args:
        markdown: The page's Markdown.
        page: The page being rendered.
        **kwargs: The rest of mkdocs' hook arguments.

    Returns:
        The Markdown to render.
    """
    if page.file.src_uri == "changelog.md":
        return CHANGELOG.read_text(encoding="utf-8")
    while True:
        stripped = _TEST_OPTIONS.sub(r"\1", markdown)
        if stripped == markdown:
            return markdown
        markdown = stripped
