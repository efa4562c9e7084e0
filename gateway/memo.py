"""What a USSD session has already read, kept in its record between hops.

A status screen paged with 98, dues shown then quoted, an agent's name on each of his
screens: without this, every hop would read the same rows again (a hop's SQL costs
more than all the rest of it). The ports keep their latest read here, JSON-ready, for
the session's few minutes. Whatever writes in a hop (a flush of its database session,
whichever port made it) forgets it; money steps (a reference, a confirmation) always
read afresh under lock."""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")
D = TypeVar("D")
INFO_KEY = "hirfa.memo"


class SessionMemo:
    def __init__(self, data: dict[str, Any] | None = None) -> None:
        self.data: dict[str, Any] = {} if data is None else data

    def get(self, key: str, load: Callable[[], T], *, encode: Callable[[T], Any], decode: Callable[[Any], T]) -> T:
        """What `load` gave when this session last asked for `key`, if nothing was read since."""
        if key in self.data:
            try:
                return decode(self.data[key])
            except (KeyError, TypeError, ValueError):
                pass  # kept by another release, in another shape: read it again
        value = load()
        # Only the latest read is kept: a screen needs what it shows (paging, the quote
        # after the dues), and a session's record stays small in Redis.
        self.data.clear()
        self.data[key] = encode(value)
        return value

    def forget(self) -> None:
        self.data.clear()

    def watch(self, db: Session) -> None:
        """Be forgotten when `db` writes (see `forget_after_writes`)."""
        db.info[INFO_KEY] = self


def forget_after_writes(sessions: Session | sessionmaker[Session]) -> None:
    """Every flush of a session watched by a memo forgets that memo: a write, through any
    port, may change what the session read (one rule, not one call in each port)."""

    def forget(session: Session, _context: object) -> None:
        memo = session.info.get(INFO_KEY)
        if memo is not None:
            memo.forget()

    event.listen(sessions, "after_flush", forget)


class FlatCodec(Generic[D]):
    """A flat dataclass (str, int, bool, dates, None) as a JSON list in field order, or None."""

    def __init__(self, cls: type[D]) -> None:
        self.cls = cls
        hints = typing.get_type_hints(cls)
        types = [hints[field.name] for field in dataclasses.fields(cls)]  # type: ignore[arg-type]
        self.dates = [kind is dt.date or dt.date in typing.get_args(kind) for kind in types]

    def encode(self, value: D | None) -> list[Any] | None:
        if value is None:
            return None
        return [v.isoformat() if isinstance(v, dt.date) else v for v in dataclasses.astuple(value)]  # type: ignore[call-overload]

    def decode(self, raw: list[Any] | None) -> D | None:
        if raw is None:
            return None
        values = zip(raw, self.dates, strict=True)
        return self.cls(*(dt.date.fromisoformat(v) if is_date and v is not None else v for v, is_date in values))
