"""USSD session records in Redis: one GET and one pipelined SET (with TTL) per hop."""

from __future__ import annotations

from typing import Any

import orjson
import redis


class RedisSessionStore:
    def __init__(self, client: redis.Redis, *, prefix: str, ttl_seconds: int) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl_seconds = ttl_seconds

    def key(self, aggregator: str, session_id: str) -> str:
        return f"{self.prefix}ussd:{aggregator}:{session_id}"

    def load(self, aggregator: str, session_id: str) -> dict[str, Any] | None:
        raw = self.client.get(self.key(aggregator, session_id))
        if raw is None:
            return None
        record = orjson.loads(raw)
        return record if isinstance(record, dict) else None

    def save(self, aggregator: str, session_id: str, record: dict[str, Any]) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.set(self.key(aggregator, session_id), orjson.dumps(record), ex=self.ttl_seconds)
        pipe.execute()
