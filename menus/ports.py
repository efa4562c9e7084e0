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
    agent_id: int | None = None  # the phone belongs to a cash-point agent


@dataclass(frozen=True)
class RegistrationStatus:
    rna_number: str
    rna_status: str  # registered | pending | struck_off
    trade: str
    # not_registered | pre_registered | waiting | covered | suspended
    amo_status: str
    waiting_until: dt.date | None
    months_unpaid: int
    paid_through: dt.date | None
    months_due: int = 0  # this month included
    total_due_centimes: int = 0


class IdentifyOutcome(enum.Enum):
    MATCHED = "matched"
    NOT_MATCHED = "not_matched"  # an unknown CIN or a wrong year: one answer, never told apart
    LOCKED = "locked"


@dataclass(frozen=True)
class TypedCin:
    """What is kept of a typed CIN between the two identification hops (in the session
    record, in Redis): a keyed digest, which also keys the CIN's failure counter, and the
    artisan the CIN names, looked up at once (None: no such CIN). Never the CIN itself:
    whoever reads Redis learns neither the CIN nor, without the key, a way to test
    guesses of it. Both values are plain JSON, for the session state."""

    digest: str
    artisan_id: int | None


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

    def typed_cin(self, cin: str) -> TypedCin:
        """What to keep of `cin` (well-formed, upper case) until the year of birth comes."""

    def identify(self, *, phone: str, cin: TypedCin, birth_year: int, language: str) -> Identification:
        """Match the CIN and the year of birth; on a match link the phone. A try counts
        against the phone and the CIN before it is evaluated; past the limit it is refused
        (LOCKED) unevaluated. Every evaluated try is recorded."""

    def save_language(self, *, phone: str, artisan_id: int | None, language: str) -> None:
        """Remember the language on the artisan, or on the phone when none is linked."""

    def send_registration_help(self, *, phone: str, language: str) -> None:
        """Queue the SMS telling where and how to register in the RNA."""

    def set_reminders(self, *, artisan_id: int, wanted: bool) -> None:
        """Start or stop the monthly dues reminders (what the artisan asks for still comes)."""

    def reminders_by(self, artisan_id: int) -> str | None:
        """How the artisan's reminders come: sms or voice (None: no such artisan)."""

    def set_reminders_by(self, *, artisan_id: int, channel: str) -> None:
        """Reminders by `channel` (sms or voice) from now on."""


class Refused(Exception):
    """A payment step refused, with a stable code the screens turn into a message."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class ReferenceInfo:
    id: int
    reference: str  # 10 digits
    network: str
    first_month: dt.date
    month_count: int
    amount_centimes: int
    expires_at: dt.datetime  # local time (Africa/Casablanca)
    state: str  # open | paid | cancelled | expired
    artisan_name: str  # masked, for agents


@dataclass(frozen=True)
class DuesInfo:
    registered: bool
    months: list[dt.date]
    total_centimes: int
    monthly_centimes: int
    paid_through: dt.date | None
    open_reference: ReferenceInfo | None


@dataclass(frozen=True)
class Quote:
    first_month: dt.date
    month_count: int
    total_centimes: int


class Payments(Protocol):
    """Dues and references for artisans; look-ups and confirmations for agents."""

    def dues(self, artisan_id: int) -> DuesInfo:
        """What the artisan owes now, and the open reference if there is one."""

    def quote(self, artisan_id: int, count: int | None) -> Quote:
        """The months (`count`, or all due when None) and total a reference would cover."""

    def request_reference(self, *, artisan_id: int, count: int | None, network: str) -> tuple[ReferenceInfo, bool]:
        """A reference (and True when an open one for the same months was given again)."""

    def reference_of(self, *, artisan_id: int, reference_id: int) -> ReferenceInfo | None:
        """One of the artisan's references (None when it is not theirs)."""

    def cancel_reference(self, *, artisan_id: int, reference_id: int) -> bool:
        """Cancel the artisan's open reference; False when it was not open."""

    def look_up(self, typed: str, *, network: str) -> ReferenceInfo:
        """The reference as the agent's network sees it; raises Refused."""

    def confirm_cash(self, *, agent_id: int, typed: str) -> str:
        """Record cash received; returns the receipt number; raises Refused."""

    def today_total(self, agent_id: int) -> tuple[int, int]:
        """(count, centimes) the agent confirmed today."""


class PinOutcome(enum.Enum):
    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"


@dataclass(frozen=True)
class AgentInfo:
    id: int
    code: str
    network: str
    locked: bool


class Agents(Protocol):
    def agent(self, agent_id: int) -> AgentInfo | None:
        """The agent, or None when no longer an agent (disabled)."""

    def check_pin(self, agent_id: int, pin: str) -> tuple[PinOutcome, int]:
        """The outcome and the tries left; the third wrong PIN locks the agent."""

    def prepare_pin(self, pin: str) -> str | None:
        """A keyed mark (HMAC) of a new PIN, held in the session between hops instead of
        the PIN; None if malformed. Without the key, no search of the PIN's few values
        finds it from the mark."""

    def set_pin(self, *, agent_id: int, pin_mark: str, typed_again: str) -> bool:
        """Make `typed_again` the agent's PIN when it is the PIN `pin_mark` marks."""


@dataclass(frozen=True)
class ClaimInfo:
    """A reimbursement claim as the artisan sees it."""

    id: int
    claim_number: str
    date: dt.date  # when Hirfa first heard of it (Africa/Casablanca)
    amount_centimes: int
    status: str  # received | in_review | approved | available | paid_out | rejected
    network: str | None  # where to collect it, when available
    pick_up_code: str | None
    available_until: dt.date | None
    reason: str | None  # why it was rejected
    # Set while the phone is in its cooldown after identifying (then pick_up_code is None):
    # when the code will show, local time (Africa/Casablanca).
    code_from: dt.datetime | None = None


class ResendOutcome(enum.Enum):
    SENT = "sent"
    LIMIT = "limit"  # already sent the most times a day allows
    NOT_AVAILABLE = "not_available"  # not the artisan's, not available, or past its date


class Reimbursements(Protocol):
    """The artisan's claims for reimbursement of medical costs."""

    def claims(self, artisan_id: int, *, limit: int) -> list[ClaimInfo]:
        """The artisan's latest `limit` claims, newest first."""

    def claim(self, *, artisan_id: int, claim_id: int) -> ClaimInfo | None:
        """One of the artisan's claims (None when it is not theirs)."""

    def resend_pick_up(self, *, artisan_id: int, claim_id: int) -> ResendOutcome:
        """Queue the pick-up SMS of an available claim again (a few times a day at most)."""


@dataclass(frozen=True)
class HelpAnswer:
    """A help request as the menus see it: new (`created`), or open since `since`."""

    created: bool
    since: dt.date  # local date (Africa/Casablanca)


class HelpDesk(Protocol):
    """Requests for help: a call-back, export support, the chamber of crafts' contact."""

    def request(self, *, artisan_id: int, kind: str) -> HelpAnswer:
        """Record a request of `kind` and queue its SMS; an open one of that kind is kept instead."""


@dataclass(frozen=True)
class BankAnswer:
    """A bank-account request as the menus see it: new (`created`), or open since `since`."""

    created: bool
    since: dt.date  # local date (Africa/Casablanca)


class Banks(Protocol):
    """Requests to be contacted by a partner bank for an account (option 5)."""

    def request(self, *, artisan_id: int, bank: str, consent_version: str) -> BankAnswer:
        """Record the request with the consent the artisan gave to the text `consent_version`,
        and queue its SMS; an open request at that bank is kept instead."""


@dataclass(frozen=True)
class Place:
    """A region or a province: its HCP code and its name in the caller's language."""

    code: str
    name: str


@dataclass(frozen=True)
class CashPointInfo:
    network: str  # wafacash | fellah_cash
    name: str
    address: str
    opening_hours: str


class CashPoints(Protocol):
    """Where to pay and collect: regions, provinces and the cash points of both networks."""

    def regions(self, language: str) -> list[Place]:
        """Every region, named in `language`."""

    def provinces(self, *, region_code: str, language: str) -> list[Place]:
        """The provinces of a region, named in `language` (none for an unknown region)."""

    def province_name(self, *, province_code: str, language: str) -> str | None:
        """The province's name in `language`, None for an unknown code."""

    def cash_points(self, province_code: str) -> list[CashPointInfo]:
        """The active cash points of the province, by network then name."""

    def send_list(self, *, phone: str, language: str, province_code: str) -> bool:
        """Queue an SMS with the first cash points of the province; False when there are none."""


class RequestOutcome(enum.Enum):
    CREATED = "created"
    OPEN = "open"  # the phone or the CIN has an open request (which, never said)
    EXPIRED = "expired"  # the sealed CIN is too old or unreadable: dial again


@dataclass(frozen=True)
class RequestAnswer:
    outcome: RequestOutcome
    number: str = ""  # of the request made now
    since: dt.date | None = None  # local date of the open request


class RegistrationDesk(Protocol):
    """Requests to be registered in the RNA, sent to the region's chamber of crafts."""

    def limited(self, phone: str) -> bool:
        """True while `phone` has used its request tries (counted like identification's)."""

    def open_since(self, phone: str) -> dt.date | None:
        """The local date of the phone's open request, None when it has none."""

    def communes(self, *, province_code: str, language: str) -> list[Place]:
        """The communes of a province, named in `language`."""

    def commune_name(self, *, commune_code: str, language: str) -> str | None:
        """The commune's name in `language`, None for an unknown code."""

    def seal_cin(self, *, phone: str, cin: str) -> str | None:
        """Count one request try of `phone`, and return `cin` (well-formed, upper case)
        sealed (encrypted, timed) to wait in the session until the confirmation, or None
        when the phone is over its tries. The session never holds the CIN in clear."""

    def reveal_cin(self, sealed: str) -> str | None:
        """The CIN `seal_cin` sealed, to show it back; None when too old or not ours."""

    def submit(
        self, *, phone: str, trade: str, commune_code: str, sealed_cin: str, birth_year: int, language: str
    ) -> RequestAnswer:
        """Store the request and queue its SMS (number, documents, chamber), or say since
        when one is open for this phone or CIN."""


@dataclass(frozen=True)
class Ports:
    registry: Registry
    payments: Payments
    agents: Agents
    reimbursements: Reimbursements
    help: HelpDesk
    cashpoints: CashPoints
    banks: Banks
    registrations: RegistrationDesk
