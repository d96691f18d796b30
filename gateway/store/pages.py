"""Lists read a page at a time, newest first, by a row number that only grows (SQLite's rowid,
PostgreSQL's ``seq``): a cursor is the number of the last row given, so rows added meanwhile
neither shift a page nor come twice (an offset would). Shared by every store."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from gateway.store.records import Page

T = TypeVar("T")
_MAX_ROWID = 2**63 - 1


def before(cursor: str | None) -> int:
    """The rowid a page reads below; ValueError for anything this store did not hand out."""
    if cursor is None:
        return _MAX_ROWID
    if not (cursor.isascii() and cursor.isdigit()) or not 0 < int(cursor) <= _MAX_ROWID:
        raise ValueError(f"not a cursor of this list: {cursor[:40]!r}")
    return int(cursor)


def page(rows: Iterable[tuple], limit: int, make: Callable[[tuple], T]) -> Page[T]:  # type: ignore[type-arg]
    """``rows`` are (rowid, *columns) of up to ``limit + 1`` rows: one more than a page tells
    whether another page follows."""
    got = list(rows)
    items = tuple(make(r[1:]) for r in got[:limit])
    return Page(items, str(got[limit - 1][0]) if len(got) > limit else None)
