"""Time: stored in UTC, and the business day of Morocco (Africa/Casablanca)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

MOROCCO = ZoneInfo("Africa/Casablanca")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def local_today(now: dt.datetime) -> dt.date:
    return now.astimezone(MOROCCO).date()
