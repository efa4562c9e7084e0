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
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, func, literal, select, union_all, update
from sqlalchemy.exc import IntegrityError
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
# The network's paid_at may run ahead of our clock by what a signature's timestamp may
# (gateway.partners.signing.MAX_SKEW_SECONDS): a counter further ahead could not sign.
PAID_AT_AHEAD = dt.timedelta(minutes=5)
# A counter reports a payment as it takes the cash, or when it comes back online the same
# day; anything older is for the reconciliation of statements, not this API.
PAID_AT_MAX_AGE = dt.timedelta(hours=24)

# The statements of the hot paths, built once: on a hop, building a statement cost
# SQLAlchemy more than PostgreSQL took to run it.
DUES_ROWS = union_all(
    select(literal("paid").label("kind"), PaidMonth.month.label("month"), literal(0).label("centimes")).where(
        PaidMonth.artisan_id == bindparam("artisan_id")
    ),
    select(literal("amount"), ContributionAmount.effective_from, ContributionAmount.monthly_centimes).where(
        ContributionAmount.category_code == bindparam("category")
    ),
)
AMOUNTS = (
    select(ContributionAmount.effective_from, ContributionAmount.monthly_centimes)
    .where(ContributionAmount.category_code == bindparam("category"))
    .order_by(ContributionAmount.effective_from)
)
OPEN_REFERENCES = select(PaymentReference).where(
    PaymentReference.artisan_id == bindparam("artisan_id"),
    PaymentReference.status == "open",
    PaymentReference.expires_at > bindparam("now"),
)
LATEST_OPEN_REFERENCE = OPEN_REFERENCES.order_by(PaymentReference.created_at.desc()).limit(1)
SAME_OPEN_REFERENCE = OPEN_REFERENCES.where(
    PaymentReference.first_month == bindparam("first_month"),
    PaymentReference.month_count == bindparam("month_count"),
    PaymentReference.network == bindparam("network"),
)
REFERENCE_TAKEN = select(PaymentReference.id).where(PaymentReference.reference == bindparam("reference"))
REFERENCE = select(PaymentReference).where(PaymentReference.reference == bindparam("reference"))
REFERENCE_LOCKED = REFERENCE.with_for_update().execution_options(populate_existing=True)
RECEIPT_TAKEN = select(Payment.id).where(Payment.receipt_number == bindparam("receipt"))
# The paid months (those paid before Hirfa have no payment), each carrying the time
# of the first payment still standing.
PAID_MONTHS_AND_FIRST_PAYMENT = select(
    PaidMonth.month,
    PaidMonth.payment_id.is_(None),
    select(func.min(Payment.created_at))
    .where(Payment.artisan_id == bindparam("artisan_id"), Payment.reversed_at.is_(None))
    .scalar_subquery(),
).where(PaidMonth.artisan_id == bindparam("artisan_id"))


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


def _amount_for(amounts: list[tuple[dt.date, int]], month: dt.date) -> int:
    applicable = [centimes for start, centimes in amounts if start <= month]
    if not applicable:
        raise Refusal("no_amount", f"no contribution amount for {month:%m/%Y}")
    return applicable[-1]


def artisan_dues(db: Session, artisan: Artisan, today: dt.date) -> Dues:
    """What `artisan` owes on `today`, read in one statement (the status screen is hot)."""
    if artisan.amo_status == "not_registered" or artisan.amo_start_month is None:
        return Dues(months=[], monthly_centimes=0, paid_through=artisan.amo_paid_through)
    rows = db.execute(DUES_ROWS, {"artisan_id": artisan.id, "category": artisan.contribution_category}).all()
    paid = {row.month for row in rows if row.kind == "paid"}
    amounts = sorted((row.month, row.centimes) for row in rows if row.kind == "amount")
    current = month_start(today)
    months = []
    month = month_start(artisan.amo_start_month)
    while month <= current:
        if month not in paid:
            months.append((month, _amount_for(amounts, month)))
        month = add_months(month, 1)
    return Dues(months=months, monthly_centimes=_amount_for(amounts, current), paid_through=artisan.amo_paid_through)


class PaymentService:
    def __init__(self, *, db: Session, settings: Settings, clock: Callable[[], dt.datetime]) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock

    # Dues -----------------------------------------------------------------------------

    def _amounts(self, category: str) -> list[tuple[dt.date, int]]:
        rows = self.db.execute(AMOUNTS, {"category": category}).all()
        return [(row.effective_from, row.monthly_centimes) for row in rows]

    def _paid_months(self, artisan_id: int) -> set[dt.date]:
        return set(self.db.scalars(select(PaidMonth.month).where(PaidMonth.artisan_id == artisan_id)))

    def dues(self, artisan: Artisan) -> Dues:
        """Months owed from the AMO start month to this month (Africa/Casablanca), oldest first."""
        return artisan_dues(self.db, artisan, local_today(self.clock()))

    def months_to_pay(self, artisan: Artisan, count: int | None) -> list[tuple[dt.date, int]]:
        """`count` months, due months first then months ahead; None: every month due."""
        dues = self.dues(artisan)
        if count is None:
            return dues.months[:MAX_MONTHS]
        if not 1 <= count <= MAX_MONTHS:
            raise Refusal("invalid_months", "choose 1 to 12 months")
        chosen = dues.months[:count]
        if len(chosen) < count:
            if artisan.amo_start_month is None or artisan.amo_status == "not_registered":
                raise Refusal("not_registered", "the artisan is not registered for AMO")
            amounts = self._amounts(artisan.contribution_category)
            paid = self._paid_months(artisan.id)
            month = add_months(month_start(local_today(self.clock())), 1)
            while len(chosen) < count:
                if month not in paid:
                    chosen.append((month, _amount_for(amounts, month)))
                month = add_months(month, 1)
        return chosen

    # References -------------------------------------------------------------------------

    def open_reference(self, artisan_id: int) -> PaymentReference | None:
        return self.db.scalar(LATEST_OPEN_REFERENCE, {"artisan_id": artisan_id, "now": self.clock()})

    def request_reference(self, *, artisan_id: int, count: int | None, network: str) -> tuple[PaymentReference, bool]:
        """A reference for `count` months (None: all due) at `network`; an open one for the
        same months and network is given again (second value True) instead of a new one."""
        if network not in NETWORKS:
            raise Refusal("invalid_network", "unknown network")
        artisan = self.db.get(Artisan, artisan_id)
        if artisan is None:
            raise Refusal("artisan_not_found", "no such artisan")
        months = self.months_to_pay(artisan, count)
        if not months:
            raise Refusal("nothing_due", "nothing is due")
        first, total = months[0][0], sum(amount for _, amount in months)
        now = self.clock()
        same = {"first_month": first, "month_count": len(months), "network": network}
        existing = self.db.scalar(SAME_OPEN_REFERENCE, {"artisan_id": artisan_id, "now": now, **same})
        if existing is not None:
            return existing, True
        reference = PaymentReference(
            reference=self._unused_reference(),
            artisan_id=artisan_id,
            network=network,
            first_month=first,
            month_count=len(months),
            amount_centimes=total,
            status="open",
            created_at=now,
            expires_at=now + dt.timedelta(hours=self.settings.reference_ttl_hours),
        )
        self.db.add(reference)
        self.db.flush()
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

    def _unused_reference(self) -> str:
        while True:  # 800 million references: a clash is rare, and checked
            candidate = new_reference()
            taken = self.db.scalar(REFERENCE_TAKEN, {"reference": candidate})
            if taken is None:
                return candidate

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

    def find_reference(self, typed: str, *, network: str | None, lock: bool = False) -> PaymentReference:
        """The reference typed (check digit verified), seen from `network` (None: any);
        with `lock`, its row locked and read afresh, in the same statement."""
        digits = normalise(typed)
        if digits is None:
            raise Refusal("invalid_reference", "a reference is 10 digits with a valid check digit")
        reference = self.db.scalar(REFERENCE_LOCKED if lock else REFERENCE, {"reference": digits})
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
        clock; the same request seen before gets its first answer, whatever changed since."""
        if network_txn_id is not None:
            previous = self._by_txn(network, network_txn_id)
            if previous is not None:
                return self._replayed(previous, request_digest)
        now = self.clock()
        if agent is None:
            self._check_partner_request(network=network, agent_code=agent_code, paid_at=paid_at, now=now)
        # The lock makes concurrent confirmations of one reference wait their turn;
        # whoever comes second sees it paid.
        locked = self.find_reference(reference, network=network, lock=True)
        state = self.reference_state(locked)
        if state == "paid":
            if network_txn_id is not None:
                previous = self._by_txn(network, network_txn_id)
                if previous is not None:
                    return self._replayed(previous, request_digest)
            raise Refusal("reference_paid", "this reference is already paid")
        if state != "open":
            raise Refusal(f"reference_{state}", f"this reference is {state}")
        if amount_centimes is not None and amount_centimes != locked.amount_centimes:
            raise Refusal("amount_mismatch", f"the amount due is {locked.amount_centimes} centimes")
        payment = Payment(
            reference_id=locked.id,
            receipt_number=self._receipt_number(network),
            artisan_id=locked.artisan_id,
            network=network,
            amount_centimes=locked.amount_centimes,
            channel="ussd" if agent is not None else "api",
            agent_id=agent.id if agent is not None else None,
            agent_code=agent.agent_code if agent is not None else agent_code,
            partner_key_id=partner_key_id,
            network_txn_id=network_txn_id,
            request_digest=request_digest,
            paid_at=paid_at or now,
            created_at=now,
        )
        artisan = self.db.get(Artisan, locked.artisan_id)
        assert artisan is not None
        amounts = self._amounts(artisan.contribution_category)
        try:
            with self.db.begin_nested():
                self.db.add(payment)
                self.db.flush()
                for index in range(locked.month_count):
                    month = add_months(locked.first_month, index)
                    self.db.add(
                        PaidMonth(
                            artisan_id=artisan.id,
                            month=month,
                            payment_id=payment.id,
                            amount_centimes=_amount_for(amounts, month),
                        )
                    )
                self.db.flush()
        except IntegrityError:
            if network_txn_id is not None:
                previous = self._by_txn(network, network_txn_id)
                if previous is not None:
                    return self._replayed(previous, request_digest)
            raise Refusal("months_already_paid", "some of these months are already paid") from None
        locked.status = "paid"
        locked.closed_at = now
        self._refresh_artisan(artisan)
        self.db.flush()
        self._receipts(artisan, locked, payment, agent)
        return Confirmation(payment=payment, reference=locked, created=True)

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

    def _receipt_number(self, network: str) -> str:
        prefix = "WF" if network == "wafacash" else "FC"
        while True:
            candidate = f"{prefix}{secrets.randbelow(10**10):010d}"
            if self.db.scalar(RECEIPT_TAKEN, {"receipt": candidate}) is None:
                return candidate

    def _refresh_artisan(self, artisan: Artisan) -> None:
        """Keep the AMO fields the status screen reads in step with the paid months.

        `amo_first_paid_month` is the month the first payment was made (the waiting
        period counts from the month after it), or for months paid before Hirfa the
        first of them; `amo_paid_through` ends the unbroken run of paid months."""
        rows = self.db.execute(PAID_MONTHS_AND_FIRST_PAYMENT, {"artisan_id": artisan.id}).all()
        paid = {month for month, _, _ in rows}
        earlier = min((month for month, before_hirfa, _ in rows if before_hirfa), default=None)
        first_paid_at = rows[0][2] if rows else None
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
        self._refresh_artisan(artisan)
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
