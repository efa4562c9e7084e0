"""What the menus need from the rest of Hirfa, as small Protocols (no SQL here).

Domain services in `gateway/` satisfy these; `create_app` wires them in.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Caller:
    """Who is dialing: the artisan linked to the phone, and the language to speak."""

    artisan_id: int | None
    language: str | None


@dataclass(frozen=True)
class RegistrationStatus:
    first_name: str
    rna_number: str
    rna_status: str  # registered | pending | struck_off
    trade: str
    # not_registered | pre_registered | waiting | covered | suspended
    amo_status: str
    waiting_until: dt.date | None
    months_unpaid: int
    paid_through: dt.date | None


class IdentifyOutcome(enum.Enum):
    MATCHED = "matched"
    MISMATCH = "mismatch"
    UNKNOWN_CIN = "unknown_cin"
    LOCKED = "locked"


@dataclass(frozen=True)
class Identification:
    outcome: IdentifyOutcome
    artisan_id: int | None = None
    tries_left: int = 0


class Registry(Protocol):
    """Artisans, phone links and identification (the RNA side of Hirfa)."""

    def caller(self, phone: str) -> Caller:
        """The artisan linked to `phone` (if any) and the language stored for it."""

    def registration_status(self, artisan_id: int) -> RegistrationStatus | None:
        """RNA and AMO status as of today; None when the artisan no longer exists."""

    def identification_locked(self, phone: str) -> bool:
        """True while `phone` may not try to identify (too many failures)."""

    def identify(self, *, phone: str, cin: str, birth_year: int, language: str) -> Identification:
        """Match CIN + birth year; on a match link the phone. Every try is recorded."""

    def save_language(self, *, phone: str, artisan_id: int | None, language: str) -> None:
        """Remember the language on the artisan, or on the phone when none is linked."""

    def send_registration_help(self, *, phone: str, language: str) -> None:
        """Queue the SMS telling where and how to register in the RNA."""


@dataclass(frozen=True)
class Ports:
    registry: Registry
