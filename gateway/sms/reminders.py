"""The monthly dues reminder: one SMS per artisan with dues, never twice for a month (a
call instead to an artisan who chose reminders by voice: gateway/voice/calls.py).

The `sms_reminders` row is written with its outbox row in the same transaction, and
(artisan, month) is unique: a second run, even a concurrent one, sends nothing twice.
Artisans are read by id in chunks with a commit per chunk, so a run over hundreds of
thousands holds no long transaction and picks up where a crashed run stopped."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.clock import add_months, month_start, months_between
from gateway.config import Settings
from gateway.payments.service import artisan_dues
from gateway.sms.outbox import queue_sms
from gateway.voice.call_outbox import queue_call, wants_call
from menus.i18n import format_amount, months_label
from models import Artisan, OutboxMessage, SmsReminder

log = logging.getLogger(__name__)

MAX_CHUNK_RETRIES = 3


class ReminderError(Exception):
    """The run cannot go ahead (a month in the future, ...); the message says why."""


@dataclass
class ReminderCounts:
    queued: int = 0
    nothing_due: int = 0
    chunks: int = 0

    def __str__(self) -> str:
        return f"{self.queued} reminders queued, {self.nothing_due} artisans with nothing due"


def dues_date(month: dt.date, today: dt.date) -> dt.date:
    """The day whose dues a reminder for `month` states: today, or the month's last day if past."""
    current = month_start(today)
    if month > current:
        raise ReminderError(f"{month:%Y-%m} is in the future")
    if month == current:
        return today
    return add_months(month, 1) - dt.timedelta(days=1)


def send_reminders(
    *,
    db_session: Session,
    settings: Settings,
    month: dt.date,
    today: dt.date,
    code: str,
    keep_going: Callable[[], bool] = lambda: True,
) -> ReminderCounts:
    """Queue the reminder of `month` (its first day) for every artisan who has dues, a phone
    and no opt-out, and has not had it yet. Commits once per chunk; stops before a chunk
    when `keep_going()` is false (the clock lost its lease)."""
    db = db_session
    month = month_start(month)
    as_of = dues_date(month, today)
    subject = f"reminder:{month:%Y-%m}"
    counts = ReminderCounts()
    after_id = 0
    retries = 0
    while keep_going():
        artisans = db.scalars(
            select(Artisan)
            .where(
                Artisan.id > after_id,
                Artisan.phone.is_not(None),
                Artisan.sms_opt_out.is_(False),
                Artisan.amo_start_month.is_not(None),
                Artisan.amo_status != "not_registered",
                ~exists().where(SmsReminder.artisan_id == Artisan.id, SmsReminder.month == month),
            )
            .order_by(Artisan.id)
            .limit(settings.sms_reminder_batch_size)
        ).all()
        if not artisans:
            db.commit()
            break
        queued: list[tuple[int, OutboxMessage | None]] = []
        nothing_due = 0
        for artisan in artisans:
            dues = artisan_dues(db, artisan, as_of)
            if not dues.months or artisan.phone is None:
                nothing_due += 1
                continue
            language = artisan.language or settings.default_language
            if wants_call(artisan, calls_out=settings.calls_out):
                # A call instead (gateway/voice/calls.py: its figures are read when it is answered).
                queue_call(db, artisan=artisan, kind="dues_reminder", subject=subject, language=language, month=month)
                queued.append((artisan.id, None))
                continue
            first, last = dues.months[0][0], dues.months[-1][0]
            message = queue_sms(
                db,
                recipient=artisan.phone,
                language=language,
                template="dues_reminder",
                subject=subject,
                months=months_label(first, months_between(first, last) + 1),
                amount=format_amount(dues.total_centimes, language),
                code=code,
            )
            queued.append((artisan.id, message))
        try:
            db.flush()
            db.add_all(
                [
                    SmsReminder(artisan_id=artisan_id, month=month, outbox_id=row.id if row else None)
                    for artisan_id, row in queued
                ]
            )
            db.commit()
        except IntegrityError:
            # Another run reminded some of these first: do the chunk again without them.
            db.rollback()
            retries += 1
            if retries > MAX_CHUNK_RETRIES:
                raise
            log.warning("reminder chunk clashed with another run; redoing it", extra={"after_id": after_id})
            continue
        retries = 0
        counts.queued += len(queued)
        counts.nothing_due += nothing_due
        counts.chunks += 1
        after_id = artisans[-1].id
    log.info(
        "dues reminders queued",
        extra={"month": f"{month:%Y-%m}", "queued": counts.queued, "nothing_due": counts.nothing_due},
    )
    return counts
