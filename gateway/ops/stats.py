"""The dashboard's figures: aggregate SQL over a period cut into Morocco-time buckets.

A period is today (24 hourly buckets) or the last 30 days (daily buckets), in the
business time of Morocco. Bucket boundaries are computed here, in Python, from the
time zone database, and each query sorts its rows into them with one CASE: the same
SQL on PostgreSQL and SQLite, which bucket dates differently, and correct on the days
Morocco moves its clocks. Each figure is one GROUP BY statement, whatever the period.

The voice line's calls are rows of the same table (aggregator `voice`): counted apart
from USSD sessions. The prompts they played, recorded or synthesised, are counted in
Redis (gateway/voice/played.py: by UTC hour and Morocco day), one pipeline per chart."""

from __future__ import annotations

import datetime as dt
import enum
import itertools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from gateway.clock import MOROCCO, local_today
from gateway.registration.requests import RegionFigures, figures
from gateway.voice.played import SOURCES, PlayedPrompts
from models import Artisan, BankLead, OutboxMessage, Payment, PaymentReference, UssdSessionOutcome
from models.banks import BANKS, OPEN_LEAD_STATUSES
from models.payments import NETWORKS

log = logging.getLogger(__name__)
VOICE = "voice"  # the aggregator of the voice line's calls
# A voice call with no screen of the menus hung up at the language offer (or was refused).
LANGUAGE_OFFER = "language_offer"

# A session's outcome, from Hirfa's own hops first: "completed" once Hirfa sent its last
# screen (an END of the menus); else the aggregator's report (Incomplete, Failed, or
# Success without our END: an error or refusal END, counted as failed); else, with no
# report, "incomplete" once the session has been quiet longer than the session TTL
# (its Redis record is gone: it cannot go on), and "in_progress" until then.
COMPLETED, INCOMPLETE, FAILED, IN_PROGRESS = "completed", "incomplete", "failed", "in_progress"
SESSION_OUTCOMES = (COMPLETED, INCOMPLETE, FAILED, IN_PROGRESS)
OTHER = "other"
UNKNOWN_SCREEN = "unknown"
SMS_CATEGORIES = ("delivered", "sent", "failed", "waiting")
DROP_OFF_SCREENS = 10
DAYS = 30
# A bank that has not fetched a lead within this long after it was made shows on the dashboard.
LEAD_FETCH_DAYS = 30


class PeriodName(enum.Enum):
    TODAY = "today"
    LAST_30_DAYS = "30d"


@dataclass(frozen=True)
class Bucket:
    start: dt.datetime  # UTC
    end: dt.datetime  # UTC, excluded

    @property
    def local_start(self) -> dt.datetime:
        return self.start.astimezone(MOROCCO)


@dataclass(frozen=True)
class Period:
    name: PeriodName
    now: dt.datetime
    buckets: tuple[Bucket, ...]
    hourly: bool

    @property
    def start(self) -> dt.datetime:
        return self.buckets[0].start

    @property
    def end(self) -> dt.datetime:
        return self.buckets[-1].end

    def label(self, index: int) -> str:
        local = self.buckets[index].local_start
        return f"{local:%H}h" if self.hourly else f"{local:%d/%m}"

    def iso(self, index: int) -> str:
        local = self.buckets[index].local_start
        return local.isoformat(timespec="minutes") if self.hourly else local.date().isoformat()


def _local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), MOROCCO).astimezone(dt.UTC)


def period(name: PeriodName, now: dt.datetime) -> Period:
    """The buckets of `name` up to the end of today (Morocco time) as of `now`."""
    today = local_today(now)
    if name is PeriodName.TODAY:
        start, end = _local_midnight(today), _local_midnight(today + dt.timedelta(days=1))
        # 23, 24 or 25 hours: counted in UTC, so a day when clocks move has no gap.
        hours = int((end - start) / dt.timedelta(hours=1))
        edges = [start + dt.timedelta(hours=h) for h in range(hours)] + [end]
        hourly = True
    else:
        first = today - dt.timedelta(days=DAYS - 1)
        edges = [_local_midnight(first + dt.timedelta(days=d)) for d in range(DAYS + 1)]
        hourly = False
    buckets = tuple(Bucket(a, b) for a, b in itertools.pairwise(edges))
    return Period(name=name, now=now, buckets=buckets, hourly=hourly)


@dataclass(frozen=True)
class Breakdown:
    """Counts (or sums) per bucket and category: `values[category][bucket index]`."""

    categories: tuple[str, ...]
    values: dict[str, tuple[int, ...]]

    def total(self, category: str | None = None) -> int:
        if category is not None:
            return sum(self.values.get(category, ()))
        return sum(sum(row) for row in self.values.values())


@dataclass(frozen=True)
class Payments:
    count: Breakdown  # per network
    amount_centimes: Breakdown  # per network


@dataclass(frozen=True)
class DropOff:
    screen: str
    sessions: int


@dataclass(frozen=True)
class Dashboard:
    period: Period
    sessions: Breakdown  # SESSION_OUTCOMES (/ other), by the hour or day they started
    drop_off: tuple[DropOff, ...]  # Hirfa's last screens of the sessions that did not complete
    payments: Payments
    expired_references: Breakdown  # one category: "expired"
    sms: Breakdown  # delivered / sent / failed / waiting
    voice_calls: Breakdown  # SESSION_OUTCOMES (/ other), calls to the voice line
    voice_drop_off: tuple[DropOff, ...]
    voice_prompts: Breakdown  # recorded / synthesised, prompts the calls played


def _bucket(column: InstrumentedAttribute[Any], p: Period) -> ColumnElement[Any]:
    # Rows are already within the period: the first boundary a row is under is its bucket.
    return case(*((column < b.end, i) for i, b in enumerate(p.buckets)), else_=None)


def _in_period(column: InstrumentedAttribute[Any], p: Period) -> ColumnElement[bool]:
    return (column >= p.start) & (column < p.end)


def _grouped(inner: Select[Any], *measures: str) -> Select[Any]:
    """Group a select of (bucket, category, …) rows by bucket and category, in a subquery:
    the same CASE written twice (select list and GROUP BY) would have two sets of
    parameters, which PostgreSQL would not see as the same expression."""
    rows = inner.subquery()
    sums = [func.count()] + [func.coalesce(func.sum(rows.c[m]), 0) for m in measures]
    return select(rows.c.bucket, rows.c.category, *sums).group_by(rows.c.bucket, rows.c.category)


def _breakdown(
    p: Period, categories: Sequence[str], rows: Iterable[tuple[int | None, str | None, int]], *, other: bool = False
) -> Breakdown:
    names = list(categories)
    table: dict[str, list[int]] = {name: [0] * len(p.buckets) for name in names}
    for index, category, value in rows:
        if index is None:
            continue
        name = category if category in table else (OTHER if other else None)
        if name is None:
            continue
        if name not in table:
            table[name] = [0] * len(p.buckets)
            names.append(name)
        table[name][index] += int(value)
    return Breakdown(categories=tuple(names), values={name: tuple(table[name]) for name in names})


def session_outcome(now: dt.datetime, session_ttl: dt.timedelta) -> ColumnElement[Any]:
    """The outcome of a session row as of `now` (SESSION_OUTCOMES, or OTHER)."""
    row = UssdSessionOutcome
    quiet_since = func.coalesce(row.last_hop_at, row.started_at)
    return case(
        (row.ended_at.is_not(None), COMPLETED),
        (row.status == "Incomplete", INCOMPLETE),
        (row.status.in_(("Failed", "Success")), FAILED),
        (row.status.is_not(None), OTHER),
        (quiet_since < now - session_ttl, INCOMPLETE),
        else_=IN_PROGRESS,
    )


def _channel(voice: bool) -> ColumnElement[bool]:
    aggregator = UssdSessionOutcome.aggregator
    return aggregator == VOICE if voice else aggregator != VOICE


def session_outcomes(db: Session, p: Period, *, session_ttl: dt.timedelta, voice: bool = False) -> Breakdown:
    """USSD sessions (or `voice` calls) that started in the period (their first hop), by outcome."""
    column = UssdSessionOutcome.started_at
    inner = select(_bucket(column, p).label("bucket"), session_outcome(p.now, session_ttl).label("category")).where(
        _in_period(column, p), _channel(voice)
    )
    rows = db.execute(_grouped(inner)).all()
    return _breakdown(p, SESSION_OUTCOMES, rows, other=True)


def drop_off(
    db: Session, p: Period, *, session_ttl: dt.timedelta, limit: int = DROP_OFF_SCREENS, voice: bool = False
) -> tuple[DropOff, ...]:
    """Hirfa's last screen of the sessions (or `voice` calls) that ended without completing,
    most frequent first. A call without a screen of the menus ended at the language offer."""
    screen = func.coalesce(UssdSessionOutcome.last_screen, UNKNOWN_SCREEN)
    query = (
        select(UssdSessionOutcome.last_screen, func.count().label("sessions"))
        .where(
            _in_period(UssdSessionOutcome.started_at, p),
            session_outcome(p.now, session_ttl).not_in((COMPLETED, IN_PROGRESS)),
            _channel(voice),
        )
        .group_by(UssdSessionOutcome.last_screen)
        .order_by(func.count().desc(), screen)
        .limit(limit)
    )
    nameless = LANGUAGE_OFFER if voice else UNKNOWN_SCREEN
    return tuple(DropOff(screen=name or nameless, sessions=int(n)) for name, n in db.execute(query).all())


def payments(db: Session, p: Period) -> Payments:
    """Payments recorded in the period (reversed ones left out), per network."""
    column = Payment.created_at  # the business day is Hirfa's clock, as in settlement files
    inner = select(
        _bucket(column, p).label("bucket"), Payment.network.label("category"), Payment.amount_centimes.label("amount")
    ).where(_in_period(column, p), Payment.reversed_at.is_(None))
    rows = db.execute(_grouped(inner, "amount")).all()
    return Payments(
        count=_breakdown(p, NETWORKS, ((b, c, n) for b, c, n, _ in rows)),
        amount_centimes=_breakdown(p, NETWORKS, ((b, c, amount) for b, c, _, amount in rows)),
    )


def expired_references(db: Session, p: Period) -> Breakdown:
    """References whose expiry passed, in the period, without a payment: per day of expiry."""
    column = PaymentReference.expires_at
    inner = select(_bucket(column, p).label("bucket"), PaymentReference.status.label("category")).where(
        _in_period(column, p), column <= p.now, PaymentReference.status == "open"
    )
    rows = db.execute(_grouped(inner)).all()
    return _breakdown(p, ("expired",), ((b, "expired", n) for b, _c, n in rows))


def sms(db: Session, p: Period) -> Breakdown:
    """SMS queued in the period, by where they are now (waiting: not sent yet)."""
    column = OutboxMessage.created_at
    state = case((OutboxMessage.state.in_(("pending", "sending")), "waiting"), else_=OutboxMessage.state).label(
        "category"
    )
    inner = select(_bucket(column, p).label("bucket"), state).where(_in_period(column, p))
    rows = db.execute(_grouped(inner)).all()
    return _breakdown(p, SMS_CATEGORIES, rows)


def voice_prompts(played: PlayedPrompts, p: Period) -> Breakdown:
    """Prompts the voice line played in the period, recorded or synthesised (Redis: none
    when it cannot be read, logged)."""
    try:
        counts = played.counts((bucket.start for bucket in p.buckets), hourly=p.hourly)
    except redis.RedisError:
        log.warning("dashboard: voice prompts not read (Redis)", exc_info=True)
        counts = []
    rows = ((index, source, n) for index, row in enumerate(counts) for source, n in row.items())
    return _breakdown(p, SOURCES, rows)


def dashboard(
    db: Session,
    *,
    name: PeriodName,
    now: dt.datetime,
    session_ttl: dt.timedelta,
    played: PlayedPrompts | None = None,
) -> Dashboard:
    """Every figure of the dashboard for the period, in seven statements and a Redis
    pipeline (none without `played`: no prompts counted). `session_ttl`: how long a
    session without news lives (USSD_SESSION_TTL_SECONDS)."""
    p = period(name, now)
    return Dashboard(
        period=p,
        sessions=session_outcomes(db, p, session_ttl=session_ttl),
        drop_off=drop_off(db, p, session_ttl=session_ttl),
        payments=payments(db, p),
        expired_references=expired_references(db, p),
        sms=sms(db, p),
        voice_calls=session_outcomes(db, p, session_ttl=session_ttl, voice=True),
        voice_drop_off=drop_off(db, p, session_ttl=session_ttl, voice=True),
        voice_prompts=voice_prompts(played, p) if played else _breakdown(p, SOURCES, ()),
    )


def bank_leads(db: Session, p: Period) -> Breakdown:
    """Bank-account requests made in the period, per bank."""
    column = BankLead.created_at
    inner = select(_bucket(column, p).label("bucket"), BankLead.bank.label("category")).where(_in_period(column, p))
    return _breakdown(p, BANKS, db.execute(_grouped(inner)).all())


def oldest_open_lead(db: Session) -> dt.datetime | None:
    """When the oldest lead still open (new or contacted) was made; None when none is."""
    oldest: dt.datetime | None = db.scalar(
        select(func.min(BankLead.created_at)).where(BankLead.status.in_(OPEN_LEAD_STATUSES))
    )
    return oldest


def unfetched_leads(db: Session, *, now: dt.datetime) -> list[tuple[BankLead, str]]:
    """Leads their bank has not fetched in the LEAD_FETCH_DAYS since they were made (oldest
    first), with the artisan's phone ('' when none)."""
    cutoff = now - dt.timedelta(days=LEAD_FETCH_DAYS)
    query = (
        select(BankLead, Artisan.phone)
        .join(Artisan, Artisan.id == BankLead.artisan_id)
        .where(BankLead.first_fetched_at.is_(None), BankLead.created_at <= cutoff)
        .order_by(BankLead.created_at, BankLead.id)
    )
    return [(lead, phone or "") for lead, phone in db.execute(query).all()]


def registration_requests(db: Session, now: dt.datetime) -> list[RegionFigures]:
    """RNA registration requests by region: made today, in the last 30 days (Morocco
    days, as every figure here), open, and the oldest open one."""
    return figures(
        db,
        since_today=period(PeriodName.TODAY, now).start,
        since_30_days=period(PeriodName.LAST_30_DAYS, now).start,
    )
