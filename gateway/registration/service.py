"""The registry the menus ask about callers: lookup, AMO status, identification."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from collections.abc import Callable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, literal, select, union_all
from sqlalchemy.orm import Session

from gateway.config import Settings
from gateway.logs import mask_phone
from gateway.registration.amo import amo_rights
from gateway.sms.outbox import queue_sms
from menus.ports import Caller, Identification, IdentifyOutcome, RegistrationStatus
from models import Artisan, IdentificationAttempt, PhoneLink, PhonePreference

log = logging.getLogger(__name__)
MOROCCO = ZoneInfo("Africa/Casablanca")
FAILURES = ("wrong_birth_year", "unknown_cin")


def local_today(now: dt.datetime) -> dt.date:
    return now.astimezone(MOROCCO).date()


class RegistryService:
    """Satisfies `menus.ports.Registry` over the database. Flushes; the edge commits."""

    def __init__(
        self, *, db: Session, settings: Settings, clock: Callable[[], dt.datetime], service_code: str = ""
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.service_code = service_code

    def caller(self, phone: str) -> Caller:
        # One statement on the first hop: the linked artisan and the phone's own preference.
        linked = select(Artisan.id.label("artisan_id"), Artisan.language.label("language"), literal(0).label("rank"))
        preferred = select(literal(None).label("artisan_id"), PhonePreference.language, literal(1))
        rows: Sequence[Any] = self.db.execute(
            union_all(linked.where(Artisan.phone == phone), preferred.where(PhonePreference.phone == phone))
        ).all()
        artisan_id = next((row.artisan_id for row in rows if row.rank == 0), None)
        language = next((row.language for row in sorted(rows, key=lambda row: row.rank) if row.language), None)
        return Caller(artisan_id=artisan_id, language=language)

    def registration_status(self, artisan_id: int) -> RegistrationStatus | None:
        artisan = self.db.get(Artisan, artisan_id)
        if artisan is None:
            return None
        rights = amo_rights(
            amo_status=artisan.amo_status,
            first_paid_month=artisan.amo_first_paid_month,
            paid_through=artisan.amo_paid_through,
            today=local_today(self.clock()),
            waiting_months=self.settings.amo_waiting_months,
            suspend_after_unpaid=self.settings.amo_suspend_after_unpaid,
        )
        return RegistrationStatus(
            first_name=artisan.first_name,
            rna_number=artisan.rna_number,
            rna_status=artisan.rna_status,
            trade=artisan.trade,
            amo_status=rights.status,
            waiting_until=rights.waiting_until,
            months_unpaid=rights.months_unpaid,
            paid_through=artisan.amo_paid_through,
        )

    def _failures(self, *, phone: str | None = None, cin_digest: str | None = None) -> int:
        since = self.clock() - dt.timedelta(hours=self.settings.identification_lockout_hours)
        query = (
            select(func.count())
            .select_from(IdentificationAttempt)
            .where(IdentificationAttempt.created_at >= since, IdentificationAttempt.outcome.in_(FAILURES))
        )
        if phone is not None:
            query = query.where(IdentificationAttempt.phone == phone)
        else:
            query = query.where(IdentificationAttempt.cin_digest == cin_digest)
        return int(self.db.scalar(query) or 0)

    def identification_locked(self, phone: str) -> bool:
        return self._failures(phone=phone) >= self.settings.identification_max_failures

    def cin_digest(self, cin: str) -> str:
        return hmac.new(self.settings.secret_key.encode(), cin.upper().encode(), hashlib.sha256).hexdigest()

    def identify(self, *, phone: str, cin: str, birth_year: int, language: str) -> Identification:
        limit = self.settings.identification_max_failures
        digest = self.cin_digest(cin)
        phone_failures = self._failures(phone=phone)
        cin_failures = self._failures(cin_digest=digest)
        if max(phone_failures, cin_failures) >= limit:
            return Identification(IdentifyOutcome.LOCKED)
        artisan = self.db.scalar(select(Artisan).where(Artisan.cin == cin.upper()))
        if artisan is None:
            outcome = "unknown_cin"
        elif artisan.birth_year != birth_year:
            outcome = "wrong_birth_year"
        else:
            outcome = "matched"
        self.db.add(IdentificationAttempt(phone=phone, cin_digest=digest, outcome=outcome, created_at=self.clock()))
        if artisan is None or outcome != "matched":
            self.db.flush()
            tries_left = limit - 1 - max(phone_failures, cin_failures)
            log.info("identification failed", extra={"phone": mask_phone(phone), "outcome": outcome})
            if outcome == "unknown_cin":
                return Identification(IdentifyOutcome.UNKNOWN_CIN, tries_left=tries_left)
            return Identification(IdentifyOutcome.MISMATCH, tries_left=tries_left)
        self._link(artisan, phone, language)
        return Identification(IdentifyOutcome.MATCHED, artisan_id=artisan.id)

    def _link(self, artisan: Artisan, phone: str, language: str) -> None:
        previous = artisan.phone
        artisan.phone = phone
        artisan.language = artisan.language or language
        self.db.add(PhoneLink(phone=phone, artisan_id=artisan.id, method="identification", linked_at=self.clock()))
        self.db.flush()
        code = self.service_code or "*4242#"
        queue_sms(self.db, recipient=phone, language=artisan.language, template="phone_linked", code=code)
        if previous and previous != phone:
            # Warn the old phone: a SIM swap or a stranger with the CIN must not go unseen.
            queue_sms(
                self.db, recipient=previous, language=artisan.language, template="phone_unlinked", tail=phone[-4:]
            )
        log.info("phone linked", extra={"phone": mask_phone(phone), "artisan_id": artisan.id})

    def save_language(self, *, phone: str, artisan_id: int | None, language: str) -> None:
        artisan = self.db.get(Artisan, artisan_id) if artisan_id is not None else None
        if artisan is not None:
            artisan.language = language
        else:
            preference = self.db.get(PhonePreference, phone)
            if preference is None:
                self.db.add(PhonePreference(phone=phone, language=language))
            else:
                preference.language = language
        self.db.flush()

    def send_registration_help(self, *, phone: str, language: str) -> None:
        queue_sms(self.db, recipient=phone, language=language, template="rna_registration_help")
        self.db.flush()
