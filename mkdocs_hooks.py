"""mkdocs hooks: the site's changelog page is the top-level CHANGELOG.md.

On the repository, docs/changelog.md is a link to that file; the site cannot
link outside its docs, so it shows the file's text instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHANGELOG = Path(__file__).resolve().parent / "CHANGELOG.md"


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
    return markdown
