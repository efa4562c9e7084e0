"""Redis commands that ride with a hop's own write: one round trip instead of two.

A hop commits, then writes its session record (gateway/ussd/store.py). What its commit
queued for Redis (an SMS job: gateway/sms/dispatch.py) need not go on a round trip of
its own: inside `riding()`, it is left here with a fallback, the session store's write
sends it along and says so (`carried`), and whatever was not carried (the hop failed
before its write, or Redis refused the commands) goes the usual way at the end. The
rows stay the truth: a job lost with its round trip is queued again by the sweep."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

log = logging.getLogger(__name__)
Command = tuple[Any, ...]

_current: ContextVar[Riders | None] = ContextVar("hirfa_riders", default=None)


class Riders:
    def __init__(self) -> None:
        self.pending: list[tuple[list[Command], Callable[[], object]]] = []

    def add(self, commands: list[Command], fallback: Callable[[], object]) -> None:
        """`commands` to send with the hop's write; else `fallback()` at the end."""
        self.pending.append((commands, fallback))

    def commands(self) -> list[Command]:
        return [command for commands, _ in self.pending for command in commands]

    def carried(self, replies: list[Any]) -> None:
        """The replies to `commands()`, sent with the hop's write: what Redis refused
        (an error reply) is left for the fallback."""
        left, start = [], 0
        for commands, fallback in self.pending:
            mine, start = replies[start : start + len(commands)], start + len(commands)
            if any(_failed(reply) for reply in mine):
                left.append((commands, fallback))
        self.pending = left

    def send_left(self) -> None:
        for _, fallback in self.pending:
            try:
                fallback()
            except Exception:  # the fallbacks log their own failures; never raise into a hop
                log.warning("a command riding with the hop was not sent", exc_info=True)
        self.pending = []


def _failed(reply: Any) -> bool:
    if isinstance(reply, Exception):
        return True
    return isinstance(reply, list) and any(isinstance(item, Exception) for item in reply)


def current_riders() -> Riders | None:
    return _current.get()


@contextmanager
def riding() -> Iterator[Riders]:
    riders = Riders()
    token = _current.set(riders)
    try:
        yield riders
    finally:
        _current.reset(token)
        riders.send_left()
