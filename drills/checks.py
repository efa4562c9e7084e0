"""After a drill: the payments in the database against what the agents saw, and every SMS
of the outbox against what the fake Africa's Talking received."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from drills.infra import Stack
from drills.load import Payments
from drills.report import DrillResult

FINAL_SENT = ("sent", "delivered")


@dataclass
class Ledger:
    references: int  # references shown to artisans
    confirmed: int  # receipts agents saw
    paid_unseen: int  # references found paid on a retry (the first confirm's answer was lost)
    payments: int  # payments in the database for the pool's artisans
    lost: int  # a receipt an agent saw with no such payment in the database
    doubled: int  # a reference or a month paid more than once
    half_applied: int  # a payment whose reference, months or amount do not agree
    unexpected: int  # screens no flow expected
    abandoned: int  # references an agent could not confirm (service down): open, not lost

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.doubled == 0 and self.half_applied == 0 and self.unexpected == 0

    def columns(self) -> dict[str, str]:
        return {
            "payments": f"{self.confirmed}+{self.paid_unseen}",
            "lost pay": str(self.lost),
            "doubled": str(self.doubled),
        }

    def line(self) -> str:
        return (
            f"payments: {self.references} references, {self.confirmed} receipts seen by agents, "
            f"{self.paid_unseen} found paid on a retry, {self.abandoned} left unconfirmed, "
            f"{self.payments} in the database; "
            f"lost payments: {self.lost}, doubled: {self.doubled}, half-applied: {self.half_applied}"
        )


def check_payments(database_url: str, seen: Payments) -> Ledger:
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            """
            SELECT r.reference, r.status, r.month_count, r.amount_centimes,
                   count(DISTINCT p.id), min(p.receipt_number), min(p.amount_centimes),
                   count(m.id), coalesce(sum(m.amount_centimes), 0)
            FROM payment_references r
            LEFT JOIN payments p ON p.reference_id = r.id AND p.reversed_at IS NULL
            LEFT JOIN paid_months m ON m.payment_id = p.id
            GROUP BY r.id
            """
        ).fetchall()
        months_twice = connection.execute(
            "SELECT count(*) FROM (SELECT 1 FROM paid_months GROUP BY artisan_id, month HAVING count(*) > 1) t"
        ).fetchone()
        payments_total = connection.execute(
            "SELECT count(*) FROM payments p JOIN artisans a ON a.id = p.artisan_id WHERE a.rna_number LIKE 'DRILL-%'"
        ).fetchone()
        artisans_twice = connection.execute(
            """SELECT count(*) FROM (SELECT p.artisan_id FROM payments p JOIN artisans a ON a.id = p.artisan_id
               WHERE a.rna_number LIKE 'DRILL-%' AND p.reversed_at IS NULL GROUP BY p.artisan_id
               HAVING count(*) > 1) t"""
        ).fetchone()
    by_reference = {row[0]: row for row in rows}
    lost = 0
    for reference, receipt in seen.confirmed.items():
        row = by_reference.get(reference)
        if row is None or row[4] != 1 or row[5] != receipt:
            lost += 1
    lost += sum(1 for reference in seen.paid_unseen if (by_reference.get(reference) or (None,) * 5)[4] != 1)
    half = 0
    doubled = (months_twice[0] if months_twice else 0) + (artisans_twice[0] if artisans_twice else 0)
    for _reference, status, month_count, amount, payments, _receipt, paid_amount, months, months_amount in rows:
        if payments > 1:
            doubled += 1
        elif payments == 1:
            if status != "paid" or months != month_count or paid_amount != amount or months_amount != amount:
                half += 1
        elif status == "paid":
            half += 1  # marked paid with no payment behind it
    return Ledger(
        references=len(seen.references),
        confirmed=len(seen.confirmed),
        paid_unseen=len(seen.paid_unseen),
        payments=payments_total[0] if payments_total else 0,
        lost=lost,
        doubled=doubled,
        half_applied=half,
        unexpected=len(seen.unexpected),
        abandoned=len(seen.abandoned),
    )


@dataclass
class SmsCount:
    rows: int
    sent: int  # rows sent (or delivered)
    received: int  # messages the fake Africa's Talking received
    not_received: int  # rows marked sent that the fake never received
    stuck: int  # rows neither sent nor failed after the sweep
    failed: int  # rows failed for good
    duplicates: int  # rows received more than once
    flagged: int  # rows marked possible_duplicate
    unflagged_duplicates: int  # received twice but not marked
    sweeps: int  # `flask sms sweep` runs it took
    settle_s: float
    before: dict[str, int]  # states when the load stopped, before any sweep

    @property
    def lost(self) -> int:
        return self.stuck + self.failed + self.not_received

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.unflagged_duplicates == 0

    def columns(self) -> dict[str, str]:
        return {"sms": str(self.rows), "lost sms": str(self.lost), "dup sms": f"{self.duplicates}/{self.flagged}"}

    def line(self) -> str:
        return (
            f"sms: {self.rows} rows, {self.sent} sent, {self.received} received by the provider, "
            f"{self.failed} failed, {self.stuck} stuck; duplicates {self.duplicates} "
            f"({self.flagged} flagged possible_duplicate, {self.unflagged_duplicates} unflagged); "
            f"lost SMS: {self.lost} (states before the sweep {self.before}; "
            f"{self.sweeps} sweep(s), {self.settle_s:.1f} s)"
        )


def _outbox(database_url: str) -> list[tuple[int, str, str, str, bool]]:
    with psycopg.connect(database_url) as connection:
        return [
            (row[0], row[1], row[2], row[3], bool(row[4]))
            for row in connection.execute(
                "SELECT id, recipient, body, state, possible_duplicate FROM sms_outbox ORDER BY id"
            )
        ]


Received = Counter[tuple[str, str]]  # (recipient, body) -> times the provider received it


def settle_sms(stack: Stack, *, limit: float = 40.0, received: Callable[[], Received] | None = None) -> SmsCount:
    """Run `flask sms sweep` (as the clock would, every few seconds here) while a worker
    runs, until every outbox row is sent or failed, or `limit` seconds went by.
    `received`: what the provider got, when it is not the fake Africa's Talking (the
    SMSC's PDU log); then no RQ worker is needed (the SMPP process sends)."""
    started = time.monotonic()
    sweeps = 0
    if received is None and not stack.live_workers():
        stack.start_worker()  # a real deployment's supervisor restarts a dead worker
    before: dict[str, int] | None = None
    while True:
        rows = _outbox(stack.postgres.plain_url)
        if before is None:
            before = dict(Counter(row[3] for row in rows))
        open_rows = [row for row in rows if row[3] not in (*FINAL_SENT, "failed")]
        if not open_rows or time.monotonic() - started > limit:
            break
        stack.sweep()
        sweeps += 1
        time.sleep(1.0)
    settle_s = time.monotonic() - started
    got = received() if received is not None else None
    return count_sms(stack, rows, sweeps=sweeps, settle_s=settle_s, before=before or {}, received=got)


def count_sms(
    stack: Stack,
    rows: list[tuple[int, str, str, str, bool]],
    *,
    sweeps: int,
    settle_s: float,
    before: dict[str, int],
    received: Received | None = None,
) -> SmsCount:
    """Rows against what the provider received (the fake records a request before
    answering it; so does the SMSC its PDUs)."""
    if received is None:
        with stack.fake.arrived:
            received = Counter((sms.recipient, sms.message) for sms in stack.fake.received)
    sent = [row for row in rows if row[3] in FINAL_SENT]
    duplicates = [row for row in rows if received[(row[1], row[2])] > 1]
    return SmsCount(
        rows=len(rows),
        sent=len(sent),
        received=sum(received.values()),
        not_received=sum(1 for row in sent if received[(row[1], row[2])] == 0),
        stuck=sum(1 for row in rows if row[3] not in (*FINAL_SENT, "failed")),
        failed=sum(1 for row in rows if row[3] == "failed"),
        duplicates=len(duplicates),
        flagged=sum(1 for row in rows if row[4]),
        unflagged_duplicates=sum(1 for row in duplicates if not row[4]),
        sweeps=sweeps,
        settle_s=settle_s,
        before=before,
    )


def judge_payments_and_sms(result: DrillResult, ledger: Ledger, sms: SmsCount) -> None:
    """The targets every drill under load shares, and their summary columns."""
    result.target("lost payments: 0, doubled: 0", ledger.ok and ledger.confirmed > 0, ledger.line())
    result.target("lost SMS: 0", sms.ok and sms.rows > 0, sms.line())
    result.summary.update({**ledger.columns(), **sms.columns()})
