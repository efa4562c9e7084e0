"""Time: stored in UTC, the business day of Morocco (Africa/Casablanca), and calendar
months (a month is the date of its first day). Every domain may use it."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

MOROCCO = ZoneInfo("Africa/Casablanca")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def local_today(now: dt.datetime) -> dt.date:
    return now.astimezone(MOROCCO).date()


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(month: dt.date, count: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + count
    return dt.date(index // 12, index % 12 + 1, 1)


def months_between(earlier: dt.date, later: dt.date) -> int:
    return (later.year - earlier.year) * 12 + later.month - earlier.month
