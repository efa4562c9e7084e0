"""What `create_app` builds once per app, and the per-hop menu context."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import redis
from flask import current_app

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


def menu_context(hop: Hop, adapter: UssdAdapter, memo: SessionMemo, language: str | None = None) -> Context:
    """The menus' context for one hop; `language`: one the caller chose before the menus (voice)."""
    app = hirfa()
    db = get_db()
    memo.watch(db)
    registry = RegistryService(db=db, settings=app.settings, clock=app.clock, service_code=hop.service_code, memo=memo)
    payments = MenuPayments(db=db, settings=app.settings, clock=app.clock, memo=memo)
    reimbursements = MenuReimbursements(db=db, settings=app.settings, clock=app.clock)
    return Context(
        phone=hop.phone,
        ports=Ports(
            registry=registry,
            payments=payments,
            agents=MenuAgents(db=db, clock=app.clock, mark_key=text_mark_key(app.settings), memo=memo),
            reimbursements=reimbursements,
            help=MenuHelpDesk(db=db, settings=app.settings, clock=app.clock),
            cashpoints=MenuCashPoints(db=db),
            banks=MenuBanks(db=db, settings=app.settings, clock=app.clock),
            registrations=MenuRegistrationDesk(db=db, settings=app.settings, clock=app.clock),
        ),
        budget=Budget(*app.settings.screen_budgets[adapter.name])
        if adapter.name in app.settings.screen_budgets
        else adapter.budget,
        today=local_today(app.clock()),
        default_language=app.settings.default_language,
        language=language,
        channel=adapter.channel,
        languages=adapter.languages,
    )
