"""AMO rights from payment dates: waiting period, covered, suspended (gateway/registration/amo.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from gateway.clock import add_months, months_between
from gateway.registration.amo import AmoRights, amo_rights


def month(year: int, number: int) -> dt.date:
    return dt.date(year, number, 1)


def rights(
    *,
    today: dt.date,
    first_paid: dt.date | None,
    paid_through: dt.date | None,
    amo_status: str = "registered",
    waiting_months: int = 3,
    suspend_after_unpaid: int = 3,
) -> AmoRights:
    return amo_rights(
        amo_status=amo_status,
        first_paid_month=first_paid,
        paid_through=paid_through,
        today=today,
        waiting_months=waiting_months,
        suspend_after_unpaid=suspend_after_unpaid,
    )


@pytest.mark.parametrize(
    ("start", "count", "expected"),
    [
        (month(2026, 5), 0, month(2026, 5)),
        (month(2026, 5), 3, month(2026, 8)),
        (month(2026, 11), 2, month(2027, 1)),
        (month(2026, 12), 1, month(2027, 1)),
        (month(2027, 1), -1, month(2026, 12)),
        (month(2026, 3), 24, month(2028, 3)),
        (month(2026, 3), -15, month(2024, 12)),
    ],
)
def test_add_months(start: dt.date, count: int, expected: dt.date) -> None:
    assert add_months(start, count) == expected


@pytest.mark.parametrize(
    ("earlier", "later", "expected"),
    [
        (month(2026, 5), month(2026, 5), 0),
        (month(2026, 5), month(2026, 11), 6),
        (month(2026, 12), month(2027, 1), 1),
        (month(2025, 11), month(2027, 2), 15),
        (month(2027, 1), month(2026, 12), -1),
        (dt.date(2026, 5, 31), dt.date(2026, 6, 1), 1),  # whole calendar months, not days
    ],
)
def test_months_between(earlier: dt.date, later: dt.date, expected: int) -> None:
    assert months_between(earlier, later) == expected


def test_not_registered_whatever_the_payments() -> None:
    result = rights(
        amo_status="not_registered",
        today=dt.date(2026, 11, 24),
        first_paid=month(2025, 1),
        paid_through=month(2026, 10),
    )

    assert result == AmoRights("not_registered")


@pytest.mark.parametrize("amo_status", ["pre_registered", "registered"])
def test_pre_registered_while_nothing_was_ever_paid(amo_status: str) -> None:
    result = rights(amo_status=amo_status, today=dt.date(2026, 11, 24), first_paid=None, paid_through=None)

    assert result.status == "pre_registered"


@pytest.mark.parametrize(
    ("today", "status"),
    [
        (dt.date(2026, 6, 15), "waiting"),  # F
        (dt.date(2026, 7, 1), "waiting"),  # F+1
        (dt.date(2026, 9, 30), "waiting"),  # F+3, the last month of the stage
        (dt.date(2026, 10, 1), "covered"),  # F+4
        (dt.date(2026, 11, 24), "covered"),
    ],
)
def test_waiting_period_runs_three_months_after_the_month_of_the_first_payment(today: dt.date, status: str) -> None:
    # First payment in June 2026, paid well ahead so that nothing is overdue.
    result = rights(today=today, first_paid=month(2026, 6), paid_through=month(2027, 6))

    assert result.status == status
    assert result.months_unpaid == 0
    if status == "waiting":
        assert result.waiting_until == month(2026, 9)
    else:
        assert result.waiting_until is None


def test_waiting_period_follows_the_setting() -> None:
    first, paid = month(2026, 6), month(2027, 6)

    july = rights(today=dt.date(2026, 7, 10), first_paid=first, paid_through=paid, waiting_months=1)
    august = rights(today=dt.date(2026, 8, 1), first_paid=first, paid_through=paid, waiting_months=1)

    assert july == AmoRights("waiting", waiting_until=month(2026, 7))
    assert august.status == "covered"


def test_waiting_period_across_the_new_year() -> None:
    first = month(2026, 11)  # stage: December, January, February

    waiting = rights(today=dt.date(2027, 2, 28), first_paid=first, paid_through=month(2027, 6))
    covered = rights(today=dt.date(2027, 3, 1), first_paid=first, paid_through=month(2027, 6))

    assert waiting == AmoRights("waiting", waiting_until=month(2027, 2))
    assert covered.status == "covered"


def test_covered_when_paid_through_last_month() -> None:
    result = rights(today=dt.date(2026, 11, 24), first_paid=month(2025, 1), paid_through=month(2026, 10))

    assert result == AmoRights("covered", months_unpaid=0)


def test_covered_when_paid_ahead() -> None:
    result = rights(today=dt.date(2026, 11, 24), first_paid=month(2025, 1), paid_through=month(2027, 3))

    assert result == AmoRights("covered", months_unpaid=0)


def test_suspended_when_paid_through_six_months_ago() -> None:
    # May 2026 paid; June to October unpaid (November is the current month).
    result = rights(today=dt.date(2026, 11, 24), first_paid=month(2025, 1), paid_through=month(2026, 5))

    assert result == AmoRights("suspended", months_unpaid=5)


@pytest.mark.parametrize(
    ("paid_through", "status", "unpaid"),
    [
        (month(2026, 7), "suspended", 3),  # August, September, October unpaid
        (month(2026, 8), "covered", 2),
        (month(2026, 9), "covered", 1),
    ],
)
def test_suspension_boundary(paid_through: dt.date, status: str, unpaid: int) -> None:
    result = rights(today=dt.date(2026, 11, 1), first_paid=month(2025, 1), paid_through=paid_through)

    assert (result.status, result.months_unpaid) == (status, unpaid)


def test_suspension_follows_the_setting() -> None:
    result = rights(
        today=dt.date(2026, 11, 24), first_paid=month(2025, 1), paid_through=month(2026, 8), suspend_after_unpaid=2
    )

    assert result == AmoRights("suspended", months_unpaid=2)


def test_suspension_counts_across_the_new_year() -> None:
    # November and December 2026 unpaid, January 2027 current: not yet suspended; February: suspended.
    first = month(2025, 1)

    january = rights(today=dt.date(2027, 1, 31), first_paid=first, paid_through=month(2026, 10))
    february = rights(today=dt.date(2027, 2, 1), first_paid=first, paid_through=month(2026, 10))

    assert (january.status, january.months_unpaid) == ("covered", 2)
    assert (february.status, february.months_unpaid) == ("suspended", 3)


def test_unpaid_months_during_the_waiting_period_are_counted() -> None:
    # First and only payment in June: at the end of the stage two months are unpaid.
    result = rights(today=dt.date(2026, 9, 10), first_paid=month(2026, 6), paid_through=month(2026, 6))

    assert result == AmoRights("waiting", waiting_until=month(2026, 9), months_unpaid=2)


def test_suspension_wins_over_the_waiting_period() -> None:
    # September is still in the stage of a June first payment, but July and August are unpaid.
    result = rights(
        today=dt.date(2026, 9, 10), first_paid=month(2026, 6), paid_through=month(2026, 6), suspend_after_unpaid=2
    )

    assert result == AmoRights("suspended", months_unpaid=2)
