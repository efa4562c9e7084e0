"""The RQ worker's connection, for `rq worker -c gateway.rq_settings` (Procfile `worker:`).

RQ's command line cannot follow Sentinel from a URL: it reads this module's upper-case
names instead. Built from the same settings as the app (gateway/config.py): REDIS_SENTINELS
set, RQ asks them for the master (SENTINEL, RQ's own form; redis-py then follows a
failover as the app does); otherwise REDIS_URL."""

from __future__ import annotations

from typing import Any

from gateway.config import Settings
from gateway.redis_client import TIMEOUTS, sentinel_kwargs

_settings = Settings.from_env()

if _settings.redis_sentinels:
    SENTINEL: dict[str, Any] = {
        "INSTANCES": list(_settings.redis_sentinels),
        "MASTER_NAME": _settings.redis_sentinel_master,
        "PASSWORD": _settings.redis_sentinel_password or None,
        "DB": 0,
        # RQ raises the read timeout above its own blocking dequeue; connecting stays short.
        "CONNECTION_KWARGS": {"socket_connect_timeout": TIMEOUTS["socket_connect_timeout"]},
        "SENTINEL_KWARGS": sentinel_kwargs(_settings),
    }
else:
    REDIS_URL = _settings.redis_url
