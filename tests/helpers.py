"""Test helpers: a frozen clock, a dialer speaking Africa's Talking's protocol, and the
SQL a block of code sends."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis
from sqlalchemy import event
from sqlalchemy.orm import Session

from menus.paging import Budget

AT_BUDGET = Budget(gsm7=160, other=80)


class FrozenClock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


Post = Callable[[str, dict[str, str]], tuple[int, str]]


class Dialer:
    """One USSD session as Africa's Talking drives it: `text` accumulates with `*`."""

    def __init__(
        self, post: Post, phone: str, *, key: str, code: str = "*4242#", aggregator: str = "africastalking"
    ) -> None:
        self.post = post
        self.phone = phone
        self.code = code
        self.url = f"/ussd/{aggregator}?key={key}"
        self.session_id = "ATUid_" + uuid.uuid4().hex
        self.typed: list[str] = []
        self.screens: list[str] = []

    @property
    def text(self) -> str:
        return "*".join(self.typed)

    def form(self) -> dict[str, str]:
        return {
            "sessionId": self.session_id,
            "serviceCode": self.code,
            "phoneNumber": self.phone,
            "networkCode": "60401",
            "text": self.text,
        }

    def start(self) -> str:
        return self._send()

    def send(self, *answers: str) -> str:
        reply = ""
        for answer in answers:
            self.typed.append(answer)
            reply = self._send()
        return reply

    def hang_up(self, status: str = "Incomplete") -> int:
        """The network drops the session: Africa's Talking's end-of-session notification."""
        base, query = self.url.split("?", 1)
        form = {
            "sessionId": self.session_id,
            "phoneNumber": self.phone,
            "serviceCode": self.code,
            "networkCode": "60401",
            "status": status,
            "durationInMillis": "20000",
            "hopsCount": str(len(self.screens)),
            "input": self.text,
            "lastAppResponse": self.screens[-1] if self.screens else "",
            "errorMessage": "",
            "cost": "KES 0.0",
            "date": "2026-11-24 10:00:20",
        }
        status_code, _ = self.post(f"{base}/events?{query}", form)
        return status_code

    def replay(self) -> str:
        """The same request again, as a retrying aggregator would send it."""
        status, body = self.post(self.url, self.form())
        assert status == 200, body
        return body

    def _send(self) -> str:
        status, body = self.post(self.url, self.form())
        assert status == 200, body
        assert body.startswith(("CON ", "END ")), body
        screen = body[4:]
        assert AT_BUDGET.fits(screen), f"over budget ({AT_BUDGET.length(screen)}): {screen!r}"
        self.screens.append(body)
        return body


@contextmanager
def sql_sent(session: Session) -> Iterator[list[tuple[str, Any]]]:
    """Every statement, with its parameters, sent on `session`'s engine inside the block."""
    sent: list[tuple[str, Any]] = []

    def before(conn: object, cursor: object, statement: str, parameters: Any, *args: object) -> None:
        sent.append((statement, parameters))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", before)


# Secrets production accepts (random, drawn once for the suite), as Settings fields:
# `dataclasses.replace(settings, env="production", **PRODUCTION_SECRETS)`.
PRODUCTION_SECRETS: dict[str, str] = {
    "secret_key": "d0cf8b7eeb8157ac6513b189ee7e442c9650fc1dddb80f50",
    "ussd_callback_key": "ce29d936721e524eeb1d9129274403278e430ee7d451b221",
    "metrics_token": "0e98f4b2c2925cd84db0975bb1fee397a1366c5b8164c343",
    "sms_backend": "africastalking",
    "at_username": "hirfa",
    "at_api_key": "12b56a37a798e931fa9186952fe5da60eec6f919f21c5428",
    "voice_tts_backend": "azure",
    "azure_speech_region": "westeurope",
    "azure_speech_key": "5c1e0d7a9b3f48e2a6d4c8b0f2e1a3d5",
}


@contextmanager
def redis_sent(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[list[str], list[int]]]:
    """What this process sends Redis meanwhile: the commands' names, and one entry per round
    trip (a command or a pipeline). Counted on redis-py's connections, not on the server's
    statistics, which other suites sharing the server would move."""
    commands: list[str] = []
    trips: list[int] = []
    send_command = redis.connection.Connection.send_command
    pack_commands = redis.connection.Connection.pack_commands
    send_packed = redis.connection.Connection.send_packed_command

    def counted_command(self: redis.connection.Connection, *args: Any, **kwargs: Any) -> None:
        commands.append(str(args[0]).lower())
        send_command(self, *args, **kwargs)

    def counted_pack(self: redis.connection.Connection, many: Any) -> Any:
        commands.extend(str(command[0]).lower() for command in many)
        return pack_commands(self, many)

    def counted_trip(self: redis.connection.Connection, command: Any, check_health: bool = True) -> None:
        trips.append(1)
        send_packed(self, command, check_health)

    monkeypatch.setattr(redis.connection.Connection, "send_command", counted_command)
    monkeypatch.setattr(redis.connection.Connection, "pack_commands", counted_pack)
    monkeypatch.setattr(redis.connection.Connection, "send_packed_command", counted_trip)
    yield commands, trips
