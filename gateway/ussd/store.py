"""USSD session records in Redis: one pipelined read and one pipelined write per hop.

Beside each session record, a phone may have a resume point: what its last session,
cut off mid-flow, can be resumed at. It lives `resume_seconds` after the last hop (and
again after the aggregator reports the session as incomplete), and is read with the
session record in the same MGET, so that the first hop of a new dial costs no more.
The same round trip counts the phone's hops this minute (its rate limit)."""

from __future__ import annotations

import time
from typing import Any

import orjson
import redis

from gateway.ratelimit import count_in
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

    def _execute(self, pipe: Any) -> list[Any]:
        if time.monotonic() < self._failing_until:
            raise redis.ConnectionError("session store: Redis failed less than a second ago")
        try:
            result: list[Any] = pipe.execute()
        except (redis.ConnectionError, redis.TimeoutError):
            self._failing_until = time.monotonic() + BREAKER_SECONDS
            raise
        return result

    def key(self, aggregator: str, session_id: str) -> str:
        return f"{self.prefix}ussd:{aggregator}:{session_id}"

    def resume_key(self, aggregator: str, phone: str) -> str:
        return f"{self.prefix}ussd-resume:{aggregator}:{phone}"

    def load(self, aggregator: str, session_id: str, phone: str, *, hop: bool = True) -> Loaded:
        """The session's record, the phone's resume point, and, when `hop`, its hops this
        minute (this one counted), in one round trip; a mere look counts nothing (0)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.mget(self.key(aggregator, session_id), self.resume_key(aggregator, phone))
        if hop:
            count_in(pipe, self.prefix, "ussd-phone", phone)
        (raw_record, raw_resume), *counted = self._execute(pipe)
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
        """Write the record; set the phone's resume point, or delete the one it had."""
        pipe = self.client.pipeline(transaction=False)
        pipe.set(self.key(aggregator, session_id), orjson.dumps(record), ex=self.ttl_seconds)
        if resume is not None and self.resume_seconds > 0:
            pipe.set(self.resume_key(aggregator, phone), orjson.dumps(resume), ex=self.resume_seconds)
        elif had_resume:
            pipe.delete(self.resume_key(aggregator, phone))
        self._execute(pipe)

    def keep_resume(self, aggregator: str, phone: str) -> None:
        """The phone's session was reported cut off: its resume point lives a full window from now."""
        self.client.expire(self.resume_key(aggregator, phone), self.resume_seconds)


def _decode(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    value = orjson.loads(raw)
    return value if isinstance(value, dict) else None
