"""The help side of `menus.ports`: option 5's requests seen by the menus."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gateway.clock import MOROCCO
from gateway.config import Settings
from gateway.help.service import Clock, request_help
from menus.ports import HelpAnswer


class MenuHelpDesk:
    def __init__(self, *, db: Session, settings: Settings, clock: Clock) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock

    def request(self, *, artisan_id: int, kind: str) -> HelpAnswer:
        request, created = request_help(
            self.db,
            artisan_id=artisan_id,
            kind=kind,
            clock=self.clock,
            default_language=self.settings.default_language,
        )
        return HelpAnswer(created=created, since=request.created_at.astimezone(MOROCCO).date())
