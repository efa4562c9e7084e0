"""What `create_app` builds once per app, and the per-hop menu context."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass

import redis
from flask import current_app
from sqlalchemy.orm import Session

from gateway.banks.menu_ports import MenuBanks
from gateway.cashpoints.menu_ports import MenuCashPoints
from gateway.clock import local_today, utc_now
from gateway.config import Settings
from gateway.db import get_db
from gateway.help.menu_ports import MenuHelpDesk
from gateway.keyring import text_mark_key
from gateway.memo import SessionMemo
from gateway.payments.menu_ports import MenuAgents, MenuPayments
from gateway.ratelimit import RateLimiter
from gateway.registration.menu_ports import MenuRegistrationDesk
from gateway.registration.service import RegistryService
from gateway.reimbursements.menu_ports import MenuReimbursements
from gateway.ussd.interfaces import Hop, SessionStore, UssdAdapter
from gateway.voice.audio import PromptAudio
from gateway.voice.played import PlayedPrompts
from menus.engine import Context
from menus.paging import Budget
from menus.ports import Ports

EXTENSION = "hirfa"
AUDIO_EXTENSION = "hirfa.voice_audio"


@dataclass(frozen=True)
class Hirfa:
    settings: Settings
    redis: redis.Redis
    session_store: SessionStore
    limiter: RateLimiter
    clock: Callable[[], dt.datetime] = utc_now


def hirfa() -> Hirfa:
    container: Hirfa = current_app.extensions[EXTENSION]
    return container


def prompt_audio() -> PromptAudio:
    """The app's one PromptAudio (its TTS client keeps its connections between calls)."""
    audio: PromptAudio = current_app.extensions[AUDIO_EXTENSION]
    return audio


def played_prompts() -> PlayedPrompts:
    """The voice prompts played, counted in Redis; their transcripts too in development only."""
    app = hirfa()
    return PlayedPrompts(
        app.redis, prefix=app.settings.redis_prefix, clock=app.clock, transcripts=not app.settings.is_production
    )


class HopPorts(Ports):
    """The menus' ports of one hop, each built on first use, and the database session
    with the first of them: a hop whose screens read nothing (a menus hop after the
    dial) opens no session at all, and builds no port it does not call."""

    app: Hirfa
    service_code: str
    memo: SessionMemo

    def __init__(self, app: Hirfa, hop: Hop, memo: SessionMemo) -> None:
        # Ports is a frozen dataclass: what the ports are built from goes in directly.
        self.__dict__.update(app=app, service_code=hop.service_code, memo=memo)

    def __repr__(self) -> str:  # the dataclass's would build every port
        built = sorted(name for name in self.__dict__ if name not in ("app", "service_code", "memo"))
        return f"HopPorts(built={built})"

    @functools.cached_property
    def _db(self) -> Session:
        db = get_db()
        self.memo.watch(db)
        return db

    @functools.cached_property
    def registry(self) -> RegistryService:
        app = self.app
        return RegistryService(
            db=self._db, settings=app.settings, clock=app.clock, service_code=self.service_code, memo=self.memo
        )

    @functools.cached_property
    def payments(self) -> MenuPayments:
        return MenuPayments(db=self._db, settings=self.app.settings, clock=self.app.clock, memo=self.memo)

    @functools.cached_property
    def agents(self) -> MenuAgents:
        mark_key = text_mark_key(self.app.settings)
        return MenuAgents(db=self._db, clock=self.app.clock, mark_key=mark_key, memo=self.memo)

    @functools.cached_property
    def reimbursements(self) -> MenuReimbursements:
        return MenuReimbursements(db=self._db, settings=self.app.settings, clock=self.app.clock)

    @functools.cached_property
    def help(self) -> MenuHelpDesk:
        return MenuHelpDesk(db=self._db, settings=self.app.settings, clock=self.app.clock)

    @functools.cached_property
    def cashpoints(self) -> MenuCashPoints:
        return MenuCashPoints(db=self._db)

    @functools.cached_property
    def banks(self) -> MenuBanks:
        return MenuBanks(db=self._db, settings=self.app.settings, clock=self.app.clock)

    @functools.cached_property
    def registrations(self) -> MenuRegistrationDesk:
        return MenuRegistrationDesk(db=self._db, settings=self.app.settings, clock=self.app.clock)


def menu_context(hop: Hop, adapter: UssdAdapter, memo: SessionMemo, language: str | None = None) -> Context:
    """The menus' context for one hop; `language`: one the caller chose before the menus (voice)."""
    app = hirfa()
    return Context(
        phone=hop.phone,
        ports=HopPorts(app, hop, memo),
        budget=Budget(*app.settings.screen_budgets[adapter.name])
        if adapter.name in app.settings.screen_budgets
        else adapter.budget,
        today=local_today(app.clock()),
        default_language=app.settings.default_language,
        language=language,
        channel=adapter.channel,
        languages=adapter.languages,
    )
