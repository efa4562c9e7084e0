"""USSD session records in Redis: one round trip to read and one to write per hop.

Beside each session record, a phone may have a resume point: what its last session,
cut off mid-flow, can be resumed at. It lives `resume_seconds` after the last hop (and
again after the aggregator reports the session as incomplete), and is read with the
session record in the same MGET, so that the first hop of a new dial costs no more.
The same round trip counts the phone's hops this minute (its rate limit).

Each round trip sends its commands packed together on a pooled connection and reads
their replies (`gateway.redis_client.round_trip`): what redis-py's pipeline does, without its bookkeeping,
which cost a hop more CPU than the rest of its Redis work (measured: 43-65 us against
24 us per round trip)."""

from __future__ import annotations

import time
from typing import Any

import orjson
import redis

from gateway.ratelimit import count_commands
from gateway.redis_client import round_trip
from gateway.riders import current_riders
from gateway.ussd.interfaces import Loaded

# After Redis failed to answer, this process's hops fail fast (the polite END) this long
# instead of each waiting out the socket timeout: with one blocking thread per worker, a
# hung Redis would otherwise queue every hop behind the others' timeouts (2.5 s seen).
BREAKER_SECONDS = 1.0


class RedisSessionStore:
    def __init__(self, client: redis.Redis, *, prefix: str, ttl_seconds: int, resume_seconds: int = 120) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl_seconds = ttl_seconds
        self.resume_seconds = resume_seconds
        self._failing_until = 0.0

    def _execute(self, commands: list[tuple[Any, ...]], riding: list[tuple[Any, ...]] | None = None) -> list[Any]:
        """The replies to `commands` (an error reply raised), then those to `riding`
        (sent in the same round trip; their errors are the riders' to handle)."""
        if time.monotonic() < self._failing_until:
            raise redis.ConnectionError("session store: Redis failed less than a second ago")
        try:
            replies = round_trip(self.client, commands + riding if riding else commands)
        except (redis.ConnectionError, redis.TimeoutError):
            self._failing_until = time.monotonic() + BREAKER_SECONDS
            raise
        for reply in replies[: len(commands)]:
            if isinstance(reply, redis.ResponseError):
                raise reply
        return replies

    def key(self, aggregator: str, session_id: str) -> str:
        return f"{self.prefix}ussd:{aggregator}:{session_id}"

    def resume_key(self, aggregator: str, phone: str) -> str:
        return f"{self.prefix}ussd-resume:{aggregator}:{phone}"

    def load(self, aggregator: str, session_id: str, phone: str, *, hop: bool = True) -> Loaded:
        """The session's record, the phone's resume point, and, when `hop`, its hops this
        minute (this one counted), in one round trip; a mere look counts nothing (0)."""
        commands: list[tuple[Any, ...]] = [
            ("MGET", self.key(aggregator, session_id), self.resume_key(aggregator, phone))
        ]
        if hop:
            commands += count_commands(self.prefix, "ussd-phone", phone)
        (raw_record, raw_resume), *counted = self._execute(commands)
        return Loaded(_decode(raw_record), _decode(raw_resume), int(counted[0]) if counted else 0)

    def save(
        self,
        aggregator: str,
        session_id: str,
        record: dict[str, Any],
        *,
        phone: str,
        resume: dict[str, Any] | None,
        had_resume: bool,
    ) -> None:
        """Write the record; set the phone's resume point, or delete the one it had; and
        send along what rides with the hop's write (gateway/riders.py: its SMS jobs)."""
        commands: list[tuple[Any, ...]] = [
            ("SET", self.key(aggregator, session_id), orjson.dumps(record), "EX", self.ttl_seconds)
        ]
        if resume is not None and self.resume_seconds > 0:
            commands.append(
                ("SET", self.resume_key(aggregator, phone), orjson.dumps(resume), "EX", self.resume_seconds)
            )
        elif had_resume:
            commands.append(("DEL", self.resume_key(aggregator, phone)))
        riders = current_riders()
        riding = riders.commands() if riders is not None else []
        replies = self._execute(commands, riding)
        if riders is not None and riding:
            riders.carried(replies[len(commands) :])

    def keep_resume(self, aggregator: str, phone: str) -> None:
        """The phone's session was reported cut off: its resume point lives a full window from now."""
        self.client.expire(self.resume_key(aggregator, phone), self.resume_seconds)


def _decode(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    value = orjson.loads(raw)
    return value if isinstance(value, dict) else None
