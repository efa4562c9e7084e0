"""Rows that a unique index keeps single: the loser of a race reads the winner's row."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

Row = TypeVar("Row")


def add_unless_taken(db: Session, row: Row, *, taken: Callable[[], Row | None]) -> tuple[Row, bool]:
    """Insert `row` (True), or, when a unique index refuses it because a racing hop
    inserted its twin first, that twin as `taken()` finds it (False). In a savepoint,
    so the caller's transaction goes on either way; an IntegrityError with no twin to
    find was something else, and is raised."""
    try:
        with db.begin_nested():
            db.add(row)
    except IntegrityError:
        existing = taken()
        if existing is None:
            raise
        return existing, False
    return row, True
