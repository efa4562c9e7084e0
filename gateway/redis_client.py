"""The Redis connection: a real server, or the in-process fakeredis stand-in."""

from __future__ import annotations

import logging

import redis

from gateway.config import Settings

log = logging.getLogger(__name__)


def make_redis(settings: Settings) -> redis.Redis:
    if settings.uses_embedded_redis:
        import fakeredis  # noqa: PLC0415 - only the embedded default needs it

        log.warning("embedded stand-in in use: fakeredis (in-process Redis, for a first run only)")
        return fakeredis.FakeRedis()
    # Short timeouts: with Redis down a hop must still answer (an END) within a second.
    return redis.Redis.from_url(
        settings.redis_url, socket_connect_timeout=0.25, socket_timeout=0.5, health_check_interval=30
    )
