"""The sweep (what the after-commit enqueue missed, retries that came due, rows whose worker
died mid-send) and the clock process that runs it every minute and the monthly reminders.
No Flask: the edge (gateway/sms_app.py) gives them a session and the app's parts."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

import redis
from sqlalchemy.orm import Session

from gateway.clock import MOROCCO, local_today, month_start
from gateway.config import Settings
from gateway.sms.dispatch import SmsDispatcher
from gateway.sms.reminders import send_reminders
from gateway.sms.service import due_pending_ids, reset_stuck_sending

log = logging.getLogger(__name__)

BATCH = 1000
REMINDER_LOCK_SECONDS = 4 * 3600
REMINDER_DONE_SECONDS = 40 * 24 * 3600


@dataclass
class SweepResult:
    reset: int = 0  # `sending` rows whose worker died, back to pending
    queued: int = 0  # jobs queued (the reset ones included)


def sweep(*, db_session: Session, sms: SmsDispatcher, now: dt.datetime) -> SweepResult:
    """Queue every pending row that is due and has no live job; put dead `sending` rows back.
    Commits `db_session` as it goes; safe to run in several processes at once."""
    result = SweepResult()
    db = db_session
    settings = sms.settings
    reset: list[int] = []
    while True:
        batch = reset_stuck_sending(
            db_session=db,
            now=now,
            timeout=dt.timedelta(seconds=settings.sms_sending_timeout_seconds),
            limit=BATCH,
        )
        db.commit()
        reset.extend(batch)
        if len(batch) < BATCH:
            break
    result.reset = len(reset)
    result.queued = sms.enqueue_unless_queued(reset, force=reset)
    already = set(reset)
    after_id = 0
    while True:
        ids = due_pending_ids(
            db_session=db,
            now=now,
            pending_timeout=dt.timedelta(seconds=settings.sms_pending_timeout_seconds),
            after_id=after_id,
            limit=BATCH,
        )
        db.rollback()  # read only: end the transaction before talking to Redis
        if not ids:
            break
        result.queued += sms.enqueue_unless_queued([i for i in ids if i not in already])
        after_id = ids[-1]
    if result.reset or result.queued:
        log.info("sms sweep", extra={"reset": result.reset, "queued": result.queued})
    return result


def reminder_code(settings: Settings) -> str | None:
    """The short code the reminder tells artisans to dial (the first of USSD_SERVICE_CODES)."""
    return settings.ussd_service_codes[0] if settings.ussd_service_codes else None


def reminders_due(now: dt.datetime, settings: Settings) -> dt.date | None:
    """The month whose reminders should go by `now` (from day N at H:00 local), else None."""
    local = now.astimezone(MOROCCO)
    if (local.day, local.hour) < (settings.sms_reminder_day, settings.sms_reminder_hour):
        return None
    return month_start(local.date())


class Clock:
    """`flask sms clock`: the sweep every SMS_SWEEP_INTERVAL_SECONDS, and each month's
    reminders from day SMS_REMINDER_DAY at SMS_REMINDER_HOUR:00 Africa/Casablanca.

    Reminders run in a thread of their own (a run over every artisan takes minutes; sweeps
    go on meanwhile). A Redis key marks a month done; another one stops two clocks from
    running the same month at once. A run cut short is taken up at the next tick: the
    reminders table makes it idempotent."""

    def __init__(
        self,
        *,
        sms: SmsDispatcher,
        clock: Callable[[], dt.datetime],
        redis_client: redis.Redis,
        open_session: Callable[[], AbstractContextManager[Session]],
        also: Callable[[], object] | None = None,
        ticks: int | None = None,
    ) -> None:
        self.sms = sms
        self.ticks = ticks
        self.settings = sms.settings
        self.clock = clock
        self.redis = redis_client
        # A session of its own for each sweep and each reminders run (the edge's unit of work).
        self.open_session = open_session
        # Another sweep to run on each tick (calls out: gateway/calls_app.sweep_calls).
        self.also = also
        self.stopping = threading.Event()
        self._reminders: threading.Thread | None = None

    def run(self, *, ticks: int | None = None) -> None:
        """Tick until `stop()` (or `ticks` ticks: the argument, else the constructor's)."""
        ticks = self.ticks if ticks is None else ticks
        done = 0
        while not self.stopping.is_set() and (ticks is None or done < ticks):
            self.tick()
            done += 1
            if ticks is None or done < ticks:
                self.stopping.wait(self.settings.sms_sweep_interval_seconds)
        if self._reminders is not None:
            self._reminders.join()

    def stop(self) -> None:
        """At once: no further tick; a reminders run stops after its current chunk."""
        self.stopping.set()

    def tick(self) -> None:
        try:
            with self.open_session() as db:
                sweep(db_session=db, sms=self.sms, now=self.clock())
        except Exception:
            log.exception("sms sweep failed; next tick tries again")
        if self.also is not None:
            try:
                self.also()
            except Exception:
                log.exception("calls sweep failed; next tick tries again")
        try:
            self._maybe_start_reminders()
        except Exception:
            log.exception("could not start the reminders; next tick tries again")

    def _key(self, kind: str, month: dt.date) -> str:
        return f"{self.settings.redis_prefix}sms:reminders:{kind}:{month:%Y-%m}"

    def _maybe_start_reminders(self) -> None:
        month = reminders_due(self.clock(), self.settings)
        if month is None or (self._reminders is not None and self._reminders.is_alive()):
            return
        if self.redis.exists(self._key("done", month)):
            return
        code = reminder_code(self.settings)
        if code is None:
            log.error("no reminders: set USSD_SERVICE_CODES (the short code the SMS names)")
            return
        if not self.redis.set(self._key("lock", month), "1", nx=True, ex=REMINDER_LOCK_SECONDS):
            return
        self._reminders = threading.Thread(
            target=self._run_reminders, args=(month, code), name="sms-reminders", daemon=True
        )
        self._reminders.start()

    def _run_reminders(self, month: dt.date, code: str) -> None:
        try:
            with self.open_session() as db:
                counts = send_reminders(
                    db_session=db,
                    settings=self.settings,
                    month=month,
                    today=local_today(self.clock()),
                    code=code,
                    keep_going=lambda: not self.stopping.is_set(),
                )
            if self.stopping.is_set():
                return  # cut short: the next clock takes it up
            self.redis.set(self._key("done", month), str(counts.queued), ex=REMINDER_DONE_SECONDS)
        except Exception:
            log.exception("reminders failed; the next tick runs them again", extra={"month": f"{month:%Y-%m}"})
        finally:
            self.redis.delete(self._key("lock", month))
