"""The registration-request side of `menus.ports`: `RegistrationDesk` over the database."""

from __future__ import annotations

import datetime as dt

from cryptography.fernet import InvalidToken
from sqlalchemy.orm import Session

from gateway import keyring
from gateway.cashpoints import service as places
from gateway.clock import MOROCCO
from gateway.config import Settings
from gateway.registration.requests import Clock, open_request, request_number, submit_request
from gateway.registration.service import claim_try, over_limit
from menus.ports import Place, RequestAnswer, RequestOutcome
from menus.typed import read_cin

SCOPE = "request"  # the identification counters' scope for request tries
SEALED_SECONDS = 30 * 60  # longer than any USSD session


class MenuRegistrationDesk:
    def __init__(self, *, db: Session, settings: Settings, clock: Clock) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        # As identification's: IDENTIFICATION_MAX_FAILURES tries per phone, for the lockout hours.
        self.limit = settings.identification_max_failures
        self.lockout = dt.timedelta(hours=settings.identification_lockout_hours)

    def limited(self, phone: str) -> bool:
        return over_limit(self.db, scope=SCOPE, key=phone, now=self.clock(), limit=self.limit, lockout=self.lockout)

    def open_since(self, phone: str) -> dt.date | None:
        request = open_request(self.db, phone=phone)
        return request.created_at.astimezone(MOROCCO).date() if request is not None else None

    def communes(self, *, province_code: str, language: str) -> list[Place]:
        return [Place(area.code, area.name(language)) for area in places.communes(province_code)]

    def commune_name(self, *, commune_code: str, language: str) -> str | None:
        area = places.commune(commune_code)
        return area.name(language) if area is not None else None

    def seal_cin(self, *, phone: str, cin: str) -> str | None:
        count = claim_try(self.db, scope=SCOPE, key=phone, now=self.clock(), limit=self.limit, lockout=self.lockout)
        if count > self.limit:
            return None
        cipher = keyring.request_cin_cipher(self.settings)
        return cipher.encrypt_at_time(cin.encode(), int(self.clock().timestamp())).decode()

    def reveal_cin(self, sealed: str) -> str | None:
        cipher = keyring.request_cin_cipher(self.settings)
        try:
            plain = cipher.decrypt_at_time(sealed.encode(), SEALED_SECONDS, int(self.clock().timestamp()))
        except (InvalidToken, ValueError):
            return None
        return read_cin(plain.decode())

    def submit(
        self, *, phone: str, trade: str, commune_code: str, sealed_cin: str, birth_year: int, language: str
    ) -> RequestAnswer:
        cin = self.reveal_cin(sealed_cin)
        if cin is None:
            return RequestAnswer(RequestOutcome.EXPIRED)
        submitted = submit_request(
            self.db,
            phone=phone,
            cin=cin,
            birth_year=birth_year,
            trade=trade,
            commune_code=commune_code,
            language=language,
            clock=self.clock,
        )
        if submitted.request is None:
            since = submitted.open_since.astimezone(MOROCCO).date() if submitted.open_since else None
            return RequestAnswer(RequestOutcome.OPEN, since=since)
        return RequestAnswer(RequestOutcome.CREATED, number=request_number(submitted.request))
