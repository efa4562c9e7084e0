"""Dues, references, confirmations and reversals. Services flush; the edge commits.

Exactly once is the database's job: one standing payment per reference (a partial
unique index), one payment per network transaction id (unique), one paid row per
artisan and month (unique), the reference row locked (SELECT ... FOR UPDATE) while a
confirmation runs, and a reversal is one conditional UPDATE (`WHERE reversed_at IS
NULL`): of racing reversals, one changes the row and the others find it reversed.

Money dates are Hirfa's: a payment's business day is the Africa/Casablanca date of
`Payment.created_at`, when Hirfa recorded it on its own clock. The network's `paid_at`
is kept as information, within PAID_AT_AHEAD / PAID_AT_MAX_AGE of that clock."""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import Table, bindparam, delete, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from gateway.clock import MOROCCO, add_months, local_today, month_start
from gateway.config import Settings
from gateway.errors import Refusal
from gateway.payments.references import new_reference, normalise
from gateway.sms.outbox import queue_sms
from menus.i18n import Translator, format_amount, grouped, months_label
from menus.networks import NETWORK_NAMES
from models import Agent, Artisan, ContributionAmount, PaidMonth, Payment, PaymentReference
from models.payments import NETWORKS

MAX_MONTHS = 12
T = TypeVar("T")
# The network's paid_at may run ahead of our clock by what a signature's timestamp may
# (gateway.partners.signing.MAX_SKEW_SECONDS): a counter further ahead could not sign.
PAID_AT_AHEAD = dt.timedelta(minutes=5)
# A counter reports a payment as it takes the cash, or when it comes back online the same
# day; anything older is for the reconciliation of statements, not this API.
PAID_AT_MAX_AGE = dt.timedelta(hours=24)

# The statements of the hot paths, built once: on a hop, building a statement cost
# SQLAlchemy more than PostgreSQL took to run it.
AMOUNTS = (
    select(ContributionAmount.effective_from, ContributionAmount.monthly_centimes)
    .where(ContributionAmount.category_code == bindparam("category"))
    .order_by(ContributionAmount.effective_from)
)
PAID_MONTHS = select(PaidMonth.month).where(PaidMonth.artisan_id == bindparam("artisan_id"))
OPEN_REFERENCES = select(PaymentReference).where(
    PaymentReference.artisan_id == bindparam("artisan_id"),
    PaymentReference.status == "open",
    PaymentReference.expires_at > bindparam("now"),
)
SAME_OPEN_REFERENCE = OPEN_REFERENCES.where(
    PaymentReference.first_month == bindparam("first_month"),
    PaymentReference.month_count == bindparam("month_count"),
    PaymentReference.network == bindparam("network"),
)
# A new reference, unless an open one for the same months and network stands (then no
# row), or its random number is taken (no row either: ON CONFLICT DO NOTHING).
_REFERENCES = cast(Table, PaymentReference.__table__)
_NEW_NAMES = ("reference", "artisan_id", "network", "first_month", "month_count", "amount_centimes", "status")
_NEW_COLUMNS = [_REFERENCES.c[name] for name in (*_NEW_NAMES, "created_at", "expires_at")]
_NEW_ROW = select(*(bindparam(f"new_{column.name}", type_=column.type) for column in _NEW_COLUMNS)).where(
    ~SAME_OPEN_REFERENCE.with_only_columns(literal(1)).exists()
)
NEW_REFERENCE = {
    dialect: select(PaymentReference).from_statement(
        insert(_REFERENCES).from_select(_NEW_COLUMNS, _NEW_ROW).on_conflict_do_nothing().returning(*_REFERENCES.c)
    )
    for dialect, insert in (("postgresql", postgresql_insert), ("sqlite", sqlite_insert))
}
# An artisan's account in one statement (the status, the dues and both money steps read
# it): the row, one row per paid month (NULL when none; paid before Hirfa or not), the
# time of the first payment still standing, and the latest open reference.
ACCOUNT = (
    select(
        Artisan,
        PaidMonth.month,
        PaidMonth.payment_id.is_(None),
        select(func.min(Payment.created_at))
        .where(Payment.artisan_id == Artisan.id, Payment.reversed_at.is_(None))
        .scalar_subquery(),
        select(PaymentReference.id)
        .where(
            PaymentReference.artisan_id == Artisan.id,
            PaymentReference.status == "open",
            PaymentReference.expires_at > bindparam("now"),
        )
        .order_by(PaymentReference.created_at.desc())
        .limit(1)
        .scalar_subquery(),
    )
    .outerjoin(PaidMonth, PaidMonth.artisan_id == Artisan.id)
    .where(Artisan.id == bindparam("artisan_id"))
)
# The artisan's row locked (PostgreSQL; SQLite has one writer at a time): a money step
# for one artisan waits for the other to commit.
ACCOUNT_LOCKED = ACCOUNT.with_for_update(of=Artisan)
# A reference typed at a counter, with its artisan (whose masked name the agent sees).
REFERENCE = select(PaymentReference, Artisan).join(Artisan, Artisan.id == PaymentReference.artisan_id)
REFERENCE = REFERENCE.where(PaymentReference.reference == bindparam("reference")).execution_options(
    populate_existing=True
)
# Confirming is one compare-and-set: the reference goes from open to paid, its row
# locked until the commit; whoever comes second finds it paid.
CLAIM_REFERENCE = (
    update(PaymentReference)
    .where(
        PaymentReference.reference == bindparam("digits"),
        PaymentReference.network == bindparam("of_network"),
        PaymentReference.status == "open",
        PaymentReference.expires_at > bindparam("as_of"),
    )
    .values(status="paid", closed_at=bindparam("as_of"))
    .returning(PaymentReference)
    .execution_options(populate_existing=True, synchronize_session=False)
)
# The paid months and the first payment still standing, after a reversal.
PAID_MONTHS_AND_FIRST_PAYMENT = select(
    PaidMonth.month,
    PaidMonth.payment_id.is_(None),
    select(func.min(Payment.created_at))
    .where(Payment.artisan_id == bindparam("artisan_id"), Payment.reversed_at.is_(None))
    .scalar_subquery(),
).where(PaidMonth.artisan_id == bindparam("artisan_id"))
# Decree amounts are read once a minute per process: a decree is a new dated row, never
# an edit, added ahead of its date (a migration, and a deploy restarts the processes); a
# row added by hand reaches every process within AMOUNTS_SECONDS.
AMOUNTS_SECONDS = 60.0
_amounts: dict[tuple[object, str], tuple[float, list[tuple[dt.date, int]]]] = {}


def contribution_amounts(db: Session, category: str) -> list[tuple[dt.date, int]]:
    """The dated monthly amounts of `category`, oldest first (kept AMOUNTS_SECONDS)."""
    key = (db.get_bind().engine.url, category)
    now = time.monotonic()
    kept = _amounts.get(key)
    if kept is not None and now - kept[0] < AMOUNTS_SECONDS:
        return kept[1]
    amounts = [(row.effective_from, row.monthly_centimes) for row in db.execute(AMOUNTS, {"category": category})]
    if amounts:  # none: our data is wrong; read again next time
        _amounts[key] = (now, amounts)
    return amounts


def business_day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The UTC bounds of the Africa/Casablanca day `day`: midnight to midnight, whatever
    the offset is that day (Ramadan moves it)."""
    start = dt.datetime.combine(day, dt.time(), MOROCCO).astimezone(dt.UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), MOROCCO).astimezone(dt.UTC)
    return start, end


@dataclass(frozen=True)
class Dues:
    months: list[tuple[dt.date, int]]  # (month, centimes), oldest first
    monthly_centimes: int  # this month's amount
    paid_through: dt.date | None

    @property
    def total_centimes(self) -> int:
        return sum(amount for _, amount in self.months)


@dataclass(frozen=True)
class Confirmation:
    payment: Payment
    reference: PaymentReference
    created: bool  # False: the same request seen before (idempotent answer)


@dataclass(frozen=True)
class Account:
    """What ACCOUNT reads of an artisan."""

    artisan: Artisan
    paid: dict[dt.date, bool]  # month -> paid before Hirfa (no payment of ours)
    first_paid_at: dt.datetime | None  # the first payment still standing
    open_reference_id: int | None  # the latest open reference


def _amount_for(amounts: list[tuple[dt.date, int]], month: dt.date) -> int:
    applicable = [centimes for start, centimes in amounts if start <= month]
    if not applicable:
        raise Refusal("no_amount", f"no contribution amount for {month:%m/%Y}")
    return applicable[-1]


def read_account(db: Session, artisan_id: int, now: dt.datetime, *, lock: bool = False) -> Account | None:
    rows = db.execute(ACCOUNT_LOCKED if lock else ACCOUNT, {"artisan_id": artisan_id, "now": now}).all()
    if not rows:
        return None
    paid = {month: before_hirfa for _, month, before_hirfa, _, _ in rows if month is not None}
    _, _, _, first_paid_at, open_reference_id = rows[0]
    return Account(rows[0][0], paid, first_paid_at, open_reference_id)


def dues_of(db: Session, artisan: Artisan, paid: Collection[dt.date], today: dt.date) -> Dues:
    """What `artisan` owes on `today`, given its paid months."""
    if artisan.amo_status == "not_registered" or artisan.amo_start_month is None:
        return Dues(months=[], monthly_centimes=0, paid_through=artisan.amo_paid_through)
    amounts = contribution_amounts(db, artisan.contribution_category)
    current = month_start(today)
    months = []
    month = month_start(artisan.amo_start_month)
    while month <= current:
        if month not in paid:
            months.append((month, _amount_for(amounts, month)))
        month = add_months(month, 1)
    return Dues(months=months, monthly_centimes=_amount_for(amounts, current), paid_through=artisan.amo_paid_through)


def artisan_dues(db: Session, artisan: Artisan, today: dt.date) -> Dues:
    """What `artisan` owes on `today` (its paid months read in one statement)."""
    if artisan.amo_status == "not_registered" or artisan.amo_start_month is None:
        return dues_of(db, artisan, (), today)
    return dues_of(db, artisan, set(db.scalars(PAID_MONTHS, {"artisan_id": artisan.id})), today)


class PaymentService:
    def __init__(self, *, db: Session, settings: Settings, clock: Callable[[], dt.datetime]) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock

    # Dues -----------------------------------------------------------------------------

    def account(self, artisan_id: int, *, lock: bool = False) -> Account | None:
        return read_account(self.db, artisan_id, self.clock(), lock=lock)

    def dues(self, artisan: Artisan, paid: Collection[dt.date] | None = None) -> Dues:
        """Months owed from the AMO start month to this month (Africa/Casablanca), oldest
        first; `paid`: the artisan's paid months when already read."""
        today = local_today(self.clock())
        return artisan_dues(self.db, artisan, today) if paid is None else dues_of(self.db, artisan, paid, today)

    def months_to_pay(self, account: Account, count: int | None) -> list[tuple[dt.date, int]]:
        """`count` months, due months first then months ahead; None: every month due."""
        artisan = account.artisan
        dues = self.dues(artisan, account.paid)
        if count is None:
            return dues.months[:MAX_MONTHS]
        if not 1 <= count <= MAX_MONTHS:
            raise Refusal("invalid_months", "choose 1 to 12 months")
        chosen = dues.months[:count]
        if len(chosen) < count:
            if artisan.amo_start_month is None or artisan.amo_status == "not_registered":
                raise Refusal("not_registered", "the artisan is not registered for AMO")
            amounts = contribution_amounts(self.db, artisan.contribution_category)
            month = add_months(month_start(local_today(self.clock())), 1)
            while len(chosen) < count:
                if month not in account.paid:
                    chosen.append((month, _amount_for(amounts, month)))
                month = add_months(month, 1)
        return chosen

    # References -------------------------------------------------------------------------

    def request_reference(self, *, artisan_id: int, count: int | None, network: str) -> tuple[PaymentReference, bool]:
        """A reference for `count` months (None: all due) at `network`; an open one for the
        same months and network is given again (second value True) instead of a new one.
        The artisan's row is locked meanwhile: racing requests make one reference."""
        if network not in NETWORKS:
            raise Refusal("invalid_network", "unknown network")
        account = self.account(artisan_id, lock=True)
        if account is None:
            raise Refusal("artisan_not_found", "no such artisan")
        artisan = account.artisan
        months = self.months_to_pay(account, count)
        if not months:
            raise Refusal("nothing_due", "nothing is due")
        first, total = months[0][0], sum(amount for _, amount in months)
        now = self.clock()
        same = {
            "artisan_id": artisan_id,
            "now": now,
            "first_month": first,
            "month_count": len(months),
            "network": network,
        }
        values = dict(
            artisan_id=artisan_id,
            network=network,
            first_month=first,
            month_count=len(months),
            amount_centimes=total,
            status="open",
            created_at=now,
            expires_at=now + dt.timedelta(hours=self.settings.reference_ttl_hours),
        )
        while True:
            # One statement: a new reference unless an open one for the same months and
            # network stands (compare-and-set; the artisan's row is locked meanwhile on
            # PostgreSQL, and SQLite writes one at a time), or its random number is taken.
            reference = self._insert_reference(reference=new_reference(), **values)
            if reference is not None:
                break
            existing = self.db.scalar(SAME_OPEN_REFERENCE, same)
            if existing is not None:
                return existing, True
            # else: the number was taken (800 million of them: rare); another
        language = artisan.language or self.settings.default_language
        if artisan.phone:
            queue_sms(
                self.db,
                recipient=artisan.phone,
                language=language,
                template="payment_reference",
                urgent=True,
                subject=f"reference:{reference.id}",
                reference=grouped(reference.reference),
                amount=format_amount(total, language),
                network=Translator(language)(NETWORK_NAMES[network]),
                months=months_label(first, len(months)),
                expires=reference.expires_at.astimezone(MOROCCO).strftime("%d/%m %H:%M"),
            )
        return reference, False

    def _dialect_insert(self) -> Callable[..., Any]:
        return sqlite_insert if self.db.get_bind().dialect.name == "sqlite" else postgresql_insert

    def _insert_new(self, entity: type[T], **values: object) -> T | None:
        """INSERT the row unless it clashes with a unique one (then None), in one statement."""
        statement = self._dialect_insert()(entity).values(**values).on_conflict_do_nothing().returning(entity)
        return self.db.scalars(statement).one_or_none()

    def _insert_reference(self, **values: Any) -> PaymentReference | None:
        """INSERT the reference unless an open one for the same months and network stands
        or its number is taken (then None), in one statement."""
        same = {name: values[name] for name in ("artisan_id", "first_month", "month_count", "network")}
        params = {f"new_{name}": value for name, value in values.items()} | same | {"now": values["created_at"]}
        return self.db.scalars(NEW_REFERENCE[self.db.get_bind().dialect.name], params).one_or_none()

    def cancel_reference(self, *, artisan_id: int, reference_id: int) -> bool:
        reference = self.db.scalar(
            select(PaymentReference)
            .where(PaymentReference.id == reference_id, PaymentReference.artisan_id == artisan_id)
            .with_for_update()
        )
        if reference is None or reference.status != "open":
            return False
        reference.status = "cancelled"
        reference.closed_at = self.clock()
        self.db.flush()
        return True

    def find_reference(self, typed: str, *, network: str | None) -> PaymentReference:
        """The reference typed (check digit verified), seen from `network` (None: any); its
        artisan is read with it (the session keeps it: `db.get` then sends nothing)."""
        digits = normalise(typed)
        if digits is None:
            raise Refusal("invalid_reference", "a reference is 10 digits with a valid check digit")
        reference: PaymentReference | None = self.db.scalar(REFERENCE, {"reference": digits})
        if reference is None or (network is not None and reference.network != network):
            # Another network's reference is not found, not "forbidden": it tells nothing.
            raise Refusal("reference_not_found", "no such reference")
        return reference

    def reference_state(self, reference: PaymentReference) -> str:
        """open, paid, cancelled or expired (an open reference past its time)."""
        if reference.status == "open" and reference.expires_at <= self.clock():
            return "expired"
        return reference.status

    # Confirmation -----------------------------------------------------------------------

    def confirm(
        self,
        *,
        reference: str,
        network: str,
        agent: Agent | None = None,
        partner_key_id: int | None = None,
        agent_code: str | None = None,
        amount_centimes: int | None = None,
        network_txn_id: str | None = None,
        request_digest: str | None = None,
        paid_at: dt.datetime | None = None,
    ) -> Confirmation:
        """Record cash received against `reference`, once. Raises Refusal.

        A partner's request (no `agent`) names an active agent of `network` in
        `agent_code`, and its `paid_at` is within PAID_AT_AHEAD / PAID_AT_MAX_AGE of our
        clock; the same request seen before gets its first answer, whatever changed since.

        The happy path is one statement for each thing written: the reference claimed
        (open -> paid, compare-and-set, its row locked), the payment, its months (both
        INSERT ... ON CONFLICT DO NOTHING: a clash returns no row instead of aborting
        the transaction), the artisan's AMO fields, the receipts. A clash is undone by
        hand (rare: months paid meanwhile through another reference, a network
        transaction id used twice at once)."""
        if network_txn_id is not None:
            previous = self._by_txn(network, network_txn_id)
            if previous is not None:
                return self._replayed(previous, request_digest)
        now = self.clock()
        if agent is None:
            self._check_partner_request(network=network, agent_code=agent_code, paid_at=paid_at, now=now)
        digits = normalise(reference)
        if digits is None:
            raise Refusal("invalid_reference", "a reference is 10 digits with a valid check digit")
        claimed = None
        while claimed is None:
            claimed = self.db.scalar(
                CLAIM_REFERENCE, {"digits": digits, "of_network": network, "as_of": now, "paid_at": now}
            )
            if claimed is None:
                replayed = self._not_claimed(reference, network, network_txn_id, request_digest)
                if replayed is not None:
                    return replayed
        if amount_centimes is not None and amount_centimes != claimed.amount_centimes:
            self._give_back(claimed)
            raise Refusal("amount_mismatch", f"the amount due is {claimed.amount_centimes} centimes")
        account = read_account(self.db, claimed.artisan_id, now)
        assert account is not None
        artisan = account.artisan
        amounts = contribution_amounts(self.db, artisan.contribution_category)
        months = [add_months(claimed.first_month, index) for index in range(claimed.month_count)]
        month_amounts = [(month, _amount_for(amounts, month)) for month in months]
        fields = dict(
            reference_id=claimed.id,
            artisan_id=claimed.artisan_id,
            network=network,
            amount_centimes=claimed.amount_centimes,
            channel="ussd" if agent is not None else "api",
            agent_id=agent.id if agent is not None else None,
            agent_code=agent.agent_code if agent is not None else agent_code,
            partner_key_id=partner_key_id,
            network_txn_id=network_txn_id,
            request_digest=request_digest,
            paid_at=paid_at or now,
            created_at=now,
        )
        payment = None
        while payment is None:
            payment = self._insert_new(Payment, receipt_number=self._receipt_number(network), **fields)
            if payment is None and network_txn_id is not None:
                previous = self._by_txn(network, network_txn_id)
                if previous is not None:  # the same transaction id, recorded meanwhile
                    self._give_back(claimed)
                    return self._replayed(previous, request_digest)
            # else: the receipt number was taken; another
        insert = self._dialect_insert()
        rows = [
            dict(artisan_id=artisan.id, month=month, payment_id=payment.id, amount_centimes=centimes)
            for month, centimes in month_amounts
        ]
        added = self.db.scalars(insert(PaidMonth).values(rows).on_conflict_do_nothing().returning(PaidMonth.id)).all()
        if len(added) < len(rows):
            self.db.execute(delete(PaidMonth).where(PaidMonth.payment_id == payment.id))
            self.db.execute(delete(Payment).where(Payment.id == payment.id))
            self._give_back(claimed)
            raise Refusal("months_already_paid", "some of these months are already paid")
        paid = {**account.paid, **dict.fromkeys(months, False)}
        first_paid_at = min(filter(None, (account.first_paid_at, now)))
        self._refresh_artisan(artisan, paid, first_paid_at)
        self.db.flush()
        self._receipts(artisan, claimed, payment, agent)
        return Confirmation(payment=payment, reference=claimed, created=True)

    def _not_claimed(
        self, typed: str, network: str, network_txn_id: str | None, request_digest: str | None
    ) -> Confirmation | None:
        """Why the reference could not be claimed (read after the attempt, so after
        whoever held it committed): a replay's first answer, a Refusal, or None when it
        is open again (claimed, then given back meanwhile: claim it again)."""
        state = self.reference_state(self.find_reference(typed, network=network))
        if state == "paid" and network_txn_id is not None:
            previous = self._by_txn(network, network_txn_id)
            if previous is not None:
                return self._replayed(previous, request_digest)
        if state == "open":
            return None
        raise Refusal(f"reference_{state}", f"this reference is {state}")

    def _give_back(self, reference: PaymentReference) -> None:
        """Undo the claim of `reference` (its row stays locked by this transaction)."""
        reference.status = "open"
        reference.closed_at = None
        self.db.flush()

    def _check_partner_request(
        self, *, network: str, agent_code: str | None, paid_at: dt.datetime | None, now: dt.datetime
    ) -> None:
        if paid_at is not None and not now - PAID_AT_MAX_AGE <= paid_at <= now + PAID_AT_AHEAD:
            raise Refusal(
                "invalid_paid_at", "paid_at must be at most 5 minutes ahead of our clock and at most 24 hours old"
            )
        active = agent_code is not None and self.db.scalar(
            select(Agent.id).where(Agent.agent_code == agent_code, Agent.network == network, Agent.status == "active")
        )
        if not active:
            # Unknown, disabled or another network's agent: one answer, it tells nothing more.
            raise Refusal("invalid_agent", "agent_code must be an active agent of your network")

    def _by_txn(self, network: str, network_txn_id: str) -> Payment | None:
        return self.db.scalar(
            select(Payment).where(Payment.network == network, Payment.network_txn_id == network_txn_id)
        )

    def _replayed(self, payment: Payment, request_digest: str | None) -> Confirmation:
        if payment.request_digest != request_digest:
            raise Refusal("txn_conflict", "this network_txn_id was used with another request")
        reference = self.db.get(PaymentReference, payment.reference_id)
        assert reference is not None
        return Confirmation(payment=payment, reference=reference, created=False)

    @staticmethod
    def _receipt_number(network: str) -> str:
        # Random: a clash with an earlier receipt is rare, and the INSERT retries it.
        prefix = "WF" if network == "wafacash" else "FC"
        return f"{prefix}{secrets.randbelow(10**10):010d}"

    def _refresh_artisan(self, artisan: Artisan, paid: dict[dt.date, bool], first_paid_at: dt.datetime | None) -> None:
        """Keep the AMO fields the status screen reads in step with the paid months
        (month -> paid before Hirfa) and the time of the first payment still standing.

        `amo_first_paid_month` is the month the first payment was made (the waiting
        period counts from the month after it), or for months paid before Hirfa the
        first of them; `amo_paid_through` ends the unbroken run of paid months."""
        earlier = min((month for month, before_hirfa in paid.items() if before_hirfa), default=None)
        candidates = [month for month in (earlier, first_paid_at and month_start(local_today(first_paid_at))) if month]
        artisan.amo_first_paid_month = min(candidates) if candidates else None
        through = None
        month = month_start(artisan.amo_start_month) if artisan.amo_start_month else min(paid, default=None)
        while month is not None and month in paid:
            through = month
            month = add_months(month, 1)
        artisan.amo_paid_through = through

    def _receipts(self, artisan: Artisan, reference: PaymentReference, payment: Payment, agent: Agent | None) -> None:
        language = artisan.language or self.settings.default_language
        months = months_label(reference.first_month, reference.month_count)
        if artisan.phone:
            queue_sms(
                self.db,
                recipient=artisan.phone,
                language=language,
                template="payment_receipt",
                urgent=True,
                subject=f"payment:{payment.id}",
                receipt=payment.receipt_number,
                amount=format_amount(payment.amount_centimes, language),
                months=months,
            )
        if agent is not None:
            # Agents keep no language of their own: the service's default speaks to them.
            agent_language = self.settings.default_language
            queue_sms(
                self.db,
                recipient=agent.phone,
                language=agent_language,
                template="agent_receipt",
                urgent=True,
                subject=f"payment:{payment.id}",
                receipt=payment.receipt_number,
                amount=format_amount(payment.amount_centimes, agent_language),
                reference=grouped(reference.reference),
            )

    # Reversal ---------------------------------------------------------------------------

    def reverse(self, *, receipt_number: str, network: str, reason: str) -> Payment:
        """Undo a payment on the business day Hirfa recorded it: its months are due again
        and its reference can be paid again until it expires.

        Why the same reference: the artisan was handed the cash back and still holds the
        reference's SMS; at the counter, the agent types that reference and takes the
        cash again, as the artisan expects. A new reference would leave the SMS in their
        hand useless. The API, the agent's check and the artisan's menu all read the
        reference's state, so all three say "open" (or "expired" past its time).

        One conditional UPDATE decides: of concurrent reversals, one changes the row (and
        queues the SMS) and the others are refused with already_reversed."""
        now = self.clock()
        start, _end = business_day_bounds(local_today(now))
        this_payment = (Payment.receipt_number == receipt_number, Payment.network == network)
        changed = self.db.execute(
            update(Payment)
            .where(*this_payment, Payment.reversed_at.is_(None), Payment.created_at >= start)
            .values(reversed_at=now, reversal_reason=reason[:255])
            .returning(Payment.id)
            .execution_options(synchronize_session=False)
        ).first()
        payment = self.db.scalar(select(Payment).where(*this_payment).execution_options(populate_existing=True))
        if payment is None:
            raise Refusal("payment_not_found", "no such receipt")
        if changed is None:
            if payment.reversed_at is not None:
                raise Refusal("already_reversed", "this payment is already reversed")
            raise Refusal("reversal_too_late", "a payment can be reversed only on the day it was recorded")
        self.db.execute(
            delete(PaidMonth).where(PaidMonth.payment_id == payment.id).execution_options(synchronize_session=False)
        )
        self.db.execute(
            update(PaymentReference)
            .where(PaymentReference.id == payment.reference_id, PaymentReference.status == "paid")
            .values(status="open", closed_at=None)
            .execution_options(synchronize_session=False)
        )
        reference = self.db.get(PaymentReference, payment.reference_id, populate_existing=True)
        artisan = self.db.get(Artisan, payment.artisan_id)
        assert reference is not None and artisan is not None
        rows = self.db.execute(PAID_MONTHS_AND_FIRST_PAYMENT, {"artisan_id": artisan.id}).all()
        self._refresh_artisan(artisan, {month: before for month, before, _ in rows}, rows[0][2] if rows else None)
        self.db.flush()
        if artisan.phone:
            language = artisan.language or self.settings.default_language
            queue_sms(
                self.db,
                recipient=artisan.phone,
                language=language,
                template="payment_reversed",
                receipt=payment.receipt_number,
                amount=format_amount(payment.amount_centimes, language),
            )
        return payment

    # Agents' figures ----------------------------------------------------------------------

    def agent_day_total(self, agent_id: int, day: dt.date) -> tuple[int, int]:
        """(count, centimes) of the agent's payments recorded on `day` (local), reversals excluded."""
        start, end = business_day_bounds(day)
        row = self.db.execute(
            select(func.count(), func.coalesce(func.sum(Payment.amount_centimes), 0)).where(
                Payment.agent_id == agent_id,
                Payment.created_at >= start,
                Payment.created_at < end,
                Payment.reversed_at.is_(None),
            )
        ).one()
        return int(row[0]), int(row[1])
