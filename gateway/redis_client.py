"""The Redis connection: the master the Sentinels name, a real server, or the in-process
fakeredis stand-in. Every Redis user (session store, rate limits, nonces, the SMS queue,
the RQ worker through gateway/rq_settings.py, the clock, the SMPP process, the leases of
gateway/leader.py) gets its client here."""

from __future__ import annotations

import logging
from typing import Any

import redis
from redis.sentinel import Sentinel

from gateway.config import Settings

log = logging.getLogger(__name__)

# Short timeouts: with Redis down a hop must still answer (an END) within a second.
TIMEOUTS: dict[str, Any] = {"socket_connect_timeout": 0.25, "socket_timeout": 0.5}
HEALTH_CHECK_SECONDS = 30


def sentinel_kwargs(settings: Settings) -> dict[str, Any]:
    """How to reach the Sentinels themselves (their password is the master's too)."""
    return {**TIMEOUTS, "password": settings.redis_sentinel_password or None}


def make_redis(settings: Settings) -> redis.Redis:
    if settings.redis_sentinels:
        # redis-py asks the Sentinels for the master on each new connection; a connection
        # that breaks (the master died) or meets READONLY (it was demoted) is dropped and
        # the next command connects to the master the Sentinels name then.
        sentinel = Sentinel(  # type: ignore[no-untyped-call]
            list(settings.redis_sentinels),
            sentinel_kwargs=sentinel_kwargs(settings),
            password=settings.redis_sentinel_password or None,
            **TIMEOUTS,
        )
        master: redis.Redis = sentinel.master_for(  # type: ignore[no-untyped-call]
            settings.redis_sentinel_master, health_check_interval=HEALTH_CHECK_SECONDS
        )
        return master
    if settings.uses_embedded_redis:
        import fakeredis  # noqa: PLC0415 - only the embedded default needs it

        log.warning("embedded stand-in in use: fakeredis (in-process Redis, for a first run only)")
        return fakeredis.FakeRedis()
    return redis.Redis.from_url(settings.redis_url, health_check_interval=HEALTH_CHECK_SECONDS, **TIMEOUTS)


def round_trip(client: redis.Redis, commands: list[tuple[Any, ...]]) -> list[Any]:
    """Send `commands` together on one of `client`'s pooled connections and read every
    reply (raw: bytes, ints, lists); a connection left mid-reply is dropped, never reused.
    Retried as redis-py retries a pipeline (the connection's policy)."""
    pool = client.connection_pool
    connection: Any = pool.get_connection()  # redis-py types none of what is used here

    def send_and_read() -> list[Any]:
        connection.send_packed_command(connection.pack_commands(commands))
        return [_reply(connection) for _ in commands]

    try:
        replies: list[Any] = connection.retry.call_with_retry(send_and_read, lambda _error: connection.disconnect())
    except BaseException:
        connection.disconnect()
        raise
    finally:
        pool.release(connection)
    return replies


def _reply(connection: Any) -> Any:
    """The next reply; an error reply as a value (the next replies are still read)."""
    try:
        return connection.read_response()
    except redis.ResponseError as error:
        return error
