"""Rate limits on Redis: fixed windows counted with INCR, one round trip per check.

A limit that cannot be checked (Redis down) lets the request through: the limits
protect the service from abuse, they must not take it down with Redis. The USSD
per-phone count rides in the session store's own read (see RedisSessionStore.load),
through the same `count_in`."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import redis

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    count: int
    seconds: int = 60


def count_in(pipe: redis.client.Pipeline, prefix: str, scope: str, key: str, seconds: int = 60) -> None:
    """Queue on `pipe` the count of one request of `key` in `scope`'s current window
    (its result: the count so far, this one included)."""
    for command in count_commands(prefix, scope, key, seconds):
        pipe.execute_command(*command)  # type: ignore[no-untyped-call]


def count_commands(prefix: str, scope: str, key: str, seconds: int = 60) -> list[tuple[str, str, int]]:
    """The Redis commands counting one request of `key` in `scope`'s current window; the
    first one's reply is the count so far, this one included."""
    name = f"{prefix}rl:{scope}:{key}:{int(time.time()) // seconds}"
    return [("INCRBY", name, 1), ("EXPIRE", name, seconds + 1)]


def retry_after(limit: Limit) -> int:
    """Seconds until the current window ends."""
    return limit.seconds - int(time.time()) % limit.seconds


class RateLimiter:
    def __init__(self, client: redis.Redis, *, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def exceeded(self, scope: str, key: str, limit: Limit) -> int | None:
        """Count one request of `key` in `scope`; None while within `limit`, else the
        seconds to wait (for Retry-After)."""
        if limit.count <= 0:
            return None  # switched off
        try:
            pipe = self.client.pipeline(transaction=False)
            count_in(pipe, self.prefix, scope, key, limit.seconds)
            count = int(pipe.execute()[0])
        except redis.RedisError:
            log.warning("rate limit not checked: Redis unavailable", extra={"scope": scope})
            return None
        if count > limit.count:
            log.warning("rate limited", extra={"scope": scope})
            return retry_after(limit)
        return None
