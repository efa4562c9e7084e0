"""The registry the menus ask about callers: lookup, AMO status, identification."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from collections.abc import Callable, Sequence

from sqlalchemy import String, bindparam, case, literal, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from gateway import keyring
from gateway.clock import local_today
from gateway.config import Settings
from gateway.logs import mask_phone
from gateway.memo import FlatCodec, SessionMemo
from gateway.payments.service import dues_of, read_account
from gateway.registration.amo import amo_rights
from gateway.sms.outbox import queue_sms
from menus.ports import Caller, Identification, IdentifyOutcome, RegistrationStatus, TypedCin
from models import (
    Agent,
    Artisan,
    IdentificationAttempt,
    IdentificationCounter,
    PhoneLink,
    PhonePreference,
    UTCDateTime,
)

log = logging.getLogger(__name__)
STATUS = FlatCodec(RegistrationStatus)
# One statement on every first hop, one row: the linked artisan, the phone's own language
# preference, and the cash-point agent whose phone it is (the whole row: the agent's
# screens then read it from the session, not again). Built once: building it cost more
# than running it.
_DIALED = select(bindparam("phone", type_=String()).label("phone")).subquery("dialed")
CALLER = (
    select(Artisan.id, Artisan.language, PhonePreference.language, Agent)
    .select_from(_DIALED)
    .outerjoin(Artisan, Artisan.phone == _DIALED.c.phone)
    .outerjoin(PhonePreference, PhonePreference.phone == _DIALED.c.phone)
    .outerjoin(Agent, (Agent.phone == _DIALED.c.phone) & (Agent.status != "disabled"))
)


def cin_digest(settings: Settings, cin: str) -> str:
    """The keyed digest a CIN is counted and compared by (never the CIN itself)."""
    return hmac.new(keyring.cin_digest_key(settings), cin.upper().encode(), hashlib.sha256).hexdigest()


def claim_try(db: Session, *, scope: str, key: str, now: dt.datetime, limit: int, lockout: dt.timedelta) -> int:
    """Count one more try of (scope, key) before it is evaluated, atomically, and return
    the count. One statement on both databases (SQLite >= 3.35 has RETURNING): racing
    tries queue on the row (PostgreSQL) or the write lock (SQLite) until each commits,
    so no two read the same count. A try made once the limit is reached leaves `last_at`
    alone: hammering a locked key does not push its unlock further."""
    counter = IdentificationCounter
    insert = sqlite_insert if db.get_bind().dialect.name == "sqlite" else postgresql_insert
    stale = counter.last_at <= now - lockout
    statement = (
        insert(counter)
        .values(scope=scope, key=key, failures=1, last_at=now)
        .on_conflict_do_update(
            index_elements=[counter.scope, counter.key],
            set_={
                "failures": case((stale, 1), else_=counter.failures + 1),
                # Typed as the column, so that SQLite stores it as every other UTC time.
                "last_at": case(
                    (stale | (counter.failures < limit), literal(now, UTCDateTime())), else_=counter.last_at
                ),
            },
        )
        .returning(counter.failures)
    )
    return int(db.execute(statement).scalar_one())


def over_limit(db: Session, *, scope: str, key: str, now: dt.datetime, limit: int, lockout: dt.timedelta) -> bool:
    """Whether (scope, key) has used its `limit` tries within the last `lockout`."""
    row = db.execute(
        select(IdentificationCounter.failures, IdentificationCounter.last_at).where(
            IdentificationCounter.scope == scope, IdentificationCounter.key == key
        )
    ).first()
    if row is None or row.last_at <= now - lockout:
        return False
    return int(row.failures) >= limit


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
        artisan_id, artisan_language, phone_language, agent = self.db.execute(CALLER, {"phone": phone}).one()
        language = (artisan_language if artisan_id is not None else None) or phone_language
        return Caller(artisan_id=artisan_id, language=language, agent_id=agent.id if agent is not None else None)

    def registration_status(self, artisan_id: int) -> RegistrationStatus | None:
        # Read once a session: paging the screen with 98 shows the same status.
        return self.memo.get(
            f"status:{artisan_id}",
            lambda: self._registration_status(artisan_id),
            encode=STATUS.encode,
            decode=STATUS.decode,
        )

    def _registration_status(self, artisan_id: int) -> RegistrationStatus | None:
        today = local_today(self.clock())
        account = read_account(self.db, artisan_id, self.clock())  # one statement
        if account is None:
            return None
        artisan = account.artisan
        rights = amo_rights(
            amo_status=artisan.amo_status,
            first_paid_month=artisan.amo_first_paid_month,
            paid_through=artisan.amo_paid_through,
            today=today,
            waiting_months=self.settings.amo_waiting_months,
            suspend_after_unpaid=self.settings.amo_suspend_after_unpaid,
        )
        dues = dues_of(self.db, artisan, account.paid, today)
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

    def _lockout(self) -> dt.timedelta:
        return dt.timedelta(hours=self.settings.identification_lockout_hours)

    def identification_locked(self, phone: str) -> bool:
        return over_limit(
            self.db,
            scope="phone",
            key=phone,
            now=self.clock(),
            limit=self.settings.identification_max_failures,
            lockout=self._lockout(),
        )

    def cin_digest(self, cin: str) -> str:
        return cin_digest(self.settings, cin)

    def typed_cin(self, cin: str) -> TypedCin:
        artisan_id = self.db.scalar(select(Artisan.id).where(Artisan.cin == cin.upper()))
        return TypedCin(digest=self.cin_digest(cin), artisan_id=artisan_id)

    def _claim_try(self, scope: str, key: str) -> int:
        return claim_try(
            self.db,
            scope=scope,
            key=key,
            now=self.clock(),
            limit=self.settings.identification_max_failures,
            lockout=self._lockout(),
        )

    def _give_back(self, keys: Sequence[tuple[str, str]]) -> None:
        """A try that matched was no failure: its claimed count is returned."""
        counter = IdentificationCounter
        for scope, key in keys:
            self.db.execute(
                update(counter)
                .where(counter.scope == scope, counter.key == key, counter.failures > 0)
                .values(failures=counter.failures - 1)
            )

    def identify(self, *, phone: str, cin: TypedCin, birth_year: int, language: str) -> Identification:
        """Claim a try on the phone's and the CIN's counters (in that order, always: no two
        hops lock them crosswise), then evaluate it only when both are within the limit.
        An unknown CIN and a wrong year are one outcome to the caller (NOT_MATCHED, the
        same tries left): the answer never tells whether a CIN is in the register."""
        limit = self.settings.identification_max_failures
        keys = [("phone", phone), ("cin", cin.digest)]
        counts = [self._claim_try(scope, key) for scope, key in keys]
        if max(counts) > limit:
            log.info("identification refused: locked", extra={"phone": mask_phone(phone)})
            return Identification(IdentifyOutcome.LOCKED)
        artisan = self.db.get(Artisan, cin.artisan_id) if cin.artisan_id is not None else None
        if artisan is not None and not hmac.compare_digest(self.cin_digest(artisan.cin), cin.digest):
            artisan = None  # the file changed its CIN between the two hops
        if artisan is None:
            outcome = "unknown_cin"
        elif artisan.birth_year != birth_year:
            outcome = "wrong_birth_year"
        else:
            outcome = "matched"
        self.db.add(IdentificationAttempt(phone=phone, cin_digest=cin.digest, outcome=outcome, created_at=self.clock()))
        if artisan is None or outcome != "matched":
            self.db.flush()
            log.info("identification failed", extra={"phone": mask_phone(phone), "outcome": outcome})
            return Identification(IdentifyOutcome.NOT_MATCHED, tries_left=limit - max(counts))
        self._give_back(keys)
        self._link(artisan, phone, language)
        return Identification(IdentifyOutcome.MATCHED, artisan_id=artisan.id)

    def _link(self, artisan: Artisan, phone: str, language: str) -> None:
        previous = artisan.phone
        artisan.phone = phone
        artisan.language = artisan.language or language
        now = self.clock()
        cooldown = dt.timedelta(hours=self.settings.relink_cooldown_hours)
        self.db.add(
            PhoneLink(
                phone=phone,
                artisan_id=artisan.id,
                method="identification",
                linked_at=now,
                pick_up_codes_from=now + cooldown,
            )
        )
        self.db.flush()
        code = self.service_code or self.settings.short_code
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

    def reminders_by(self, artisan_id: int) -> str | None:
        artisan = self.db.get(Artisan, artisan_id)
        return artisan.reminders_by if artisan is not None else None

    def set_reminders_by(self, *, artisan_id: int, channel: str) -> None:
        artisan = self.db.get(Artisan, artisan_id)
        if artisan is not None:
            artisan.reminders_by = channel
            self.db.flush()

    def send_registration_help(self, *, phone: str, language: str) -> None:
        queue_sms(self.db, recipient=phone, language=language, template="rna_registration_help")
        self.db.flush()
