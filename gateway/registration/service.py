"""The registry the menus ask about callers: lookup, AMO status, identification."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import CompoundSelect, bindparam, func, literal, select, union_all
from sqlalchemy.orm import Session

from gateway import keyring
from gateway.clock import local_today
from gateway.config import Settings
from gateway.logs import mask_phone
from gateway.memo import FlatCodec, SessionMemo
from gateway.payments.service import artisan_dues
from gateway.registration.amo import amo_rights
from gateway.sms.outbox import queue_sms
from menus.ports import Caller, Identification, IdentifyOutcome, RegistrationStatus
from models import Agent, Artisan, IdentificationAttempt, PhoneLink, PhonePreference

log = logging.getLogger(__name__)
FAILURES = ("wrong_birth_year", "unknown_cin")
STATUS = FlatCodec(RegistrationStatus)
# One statement on every first hop: the linked artisan, the phone's own language
# preference, and whether the phone is a cash-point agent's. Built once: building it
# cost more than running it.
CALLER: CompoundSelect[Any] = union_all(
    select(Artisan.id, Artisan.language, literal("artisan").label("kind")).where(Artisan.phone == bindparam("phone")),
    select(literal(None), PhonePreference.language, literal("phone")).where(
        PhonePreference.phone == bindparam("phone")
    ),
    select(Agent.id, literal(None), literal("agent")).where(
        Agent.phone == bindparam("phone"), Agent.status != "disabled"
    ),
)


class RegistryService:
    """Satisfies `menus.ports.Registry` over the database. Flushes; the edge commits."""

    def __init__(
        self,
        *,
        db: Session,
        settings: Settings,
        clock: Callable[[], dt.datetime],
        service_code: str = "",
        memo: SessionMemo | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.service_code = service_code
        self.memo = memo or SessionMemo()

    def caller(self, phone: str) -> Caller:
        rows: Sequence[Any] = self.db.execute(CALLER, {"phone": phone}).all()
        found = {row.kind: row for row in rows}
        languages = [found[kind].language for kind in ("artisan", "phone") if kind in found and found[kind].language]
        return Caller(
            artisan_id=found["artisan"].id if "artisan" in found else None,
            language=languages[0] if languages else None,
            agent_id=found["agent"].id if "agent" in found else None,
        )

    def registration_status(self, artisan_id: int) -> RegistrationStatus | None:
        # Read once a session: paging the screen with 98 shows the same status.
        return self.memo.get(
            f"status:{artisan_id}",
            lambda: self._registration_status(artisan_id),
            encode=STATUS.encode,
            decode=STATUS.decode,
        )

    def _registration_status(self, artisan_id: int) -> RegistrationStatus | None:
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
        dues = artisan_dues(self.db, artisan, local_today(self.clock()))
        return RegistrationStatus(
            months_due=len(dues.months),
            total_due_centimes=dues.total_centimes,
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
        return hmac.new(keyring.cin_digest_key(self.settings), cin.upper().encode(), hashlib.sha256).hexdigest()

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

    def set_reminders(self, *, artisan_id: int, wanted: bool) -> None:
        artisan = self.db.get(Artisan, artisan_id)
        if artisan is not None:
            artisan.sms_opt_out = not wanted
            self.db.flush()

    def send_registration_help(self, *, phone: str, language: str) -> None:
        queue_sms(self.db, recipient=phone, language=language, template="rna_registration_help")
        self.db.flush()
