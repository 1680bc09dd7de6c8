"""Walking an exception's chain as a traceback would show it (shared by tests)."""

from __future__ import annotations

from collections.abc import Iterator


def shown_chain(exc: BaseException) -> Iterator[BaseException]:
    """The exceptions a traceback would show: __cause__, or unsuppressed __context__."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        if current.__cause__ is not None:
            current = current.__cause__
        elif not current.__suppress_context__:
            current = current.__context__
        else:
            current = None
