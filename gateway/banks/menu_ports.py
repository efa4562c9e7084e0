"""The banks side of `menus.ports`: option 5's bank-account requests seen by the menus."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gateway.banks.service import Clock, request_lead
from gateway.clock import MOROCCO
from gateway.config import Settings
from menus.ports import BankAnswer


class MenuBanks:
    def __init__(self, *, db: Session, settings: Settings, clock: Clock) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock

    def request(self, *, artisan_id: int, bank: str, consent_version: str) -> BankAnswer:
        lead, created = request_lead(
            self.db,
            artisan_id=artisan_id,
            bank=bank,
            consent_version=consent_version,
            clock=self.clock,
            default_language=self.settings.default_language,
        )
        return BankAnswer(created=created, since=lead.created_at.astimezone(MOROCCO).date())
