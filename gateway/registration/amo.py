"""AMO rights from the dates we hold: waiting period, covered, suspended."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from gateway.clock import add_months, month_start, months_between


@dataclass(frozen=True)
class AmoRights:
    status: str  # not_registered | pre_registered | waiting | covered | suspended
    waiting_until: dt.date | None = None
    months_unpaid: int = 0


def amo_rights(
    *,
    amo_status: str,
    first_paid_month: dt.date | None,
    paid_through: dt.date | None,
    today: dt.date,
    waiting_months: int,
    suspend_after_unpaid: int,
) -> AmoRights:
    """Rights as of `today` (a date in Africa/Casablanca).

    The waiting period ("stage") is `waiting_months` months counted from the month
    after the first payment; `waiting_until` is its last month. Rights are suspended
    once `suspend_after_unpaid` whole months before the current one are unpaid.
    """
    if amo_status == "not_registered":
        return AmoRights("not_registered")
    if first_paid_month is None or paid_through is None:
        return AmoRights("pre_registered")
    current = month_start(today)
    overdue = max(months_between(paid_through, current) - 1, 0)
    if overdue >= suspend_after_unpaid:
        return AmoRights("suspended", months_unpaid=overdue)
    waiting_until = add_months(first_paid_month, waiting_months)
    if current <= waiting_until:
        return AmoRights("waiting", waiting_until=waiting_until, months_unpaid=overdue)
    return AmoRights("covered", months_unpaid=overdue)
