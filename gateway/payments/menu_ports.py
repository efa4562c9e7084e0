"""The payments side of `menus.ports`: PaymentService and AgentService seen by the menus."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from gateway.clock import MOROCCO, local_today
from gateway.config import Settings
from gateway.errors import Refusal
from gateway.logs import mask_name
from gateway.marks import mark, same_mark
from gateway.memo import FlatCodec, SessionMemo
from gateway.payments.agents import AgentService, PinCheck, hash_pin, valid_pin
from gateway.payments.service import MAX_MONTHS, Account, Dues, PaymentService
from menus.ports import AgentInfo, DuesInfo, PinOutcome, Quote, ReferenceInfo, Refused
from models import Agent, Artisan, PaymentReference

AGENT = FlatCodec(AgentInfo)
NEW_PIN = "new-pin"  # the purpose of a new PIN's mark


@dataclass(frozen=True)
class ArtisanDues:
    """What the dues screen and the quote need, as the session's memo keeps it."""

    registered: bool
    dues: Dues
    open_reference_id: int | None

    def encode(self) -> list[Any]:
        months = [[month.isoformat(), centimes] for month, centimes in self.dues.months]
        paid_through = self.dues.paid_through.isoformat() if self.dues.paid_through else None
        return [self.registered, months, self.dues.monthly_centimes, paid_through, self.open_reference_id]

    @classmethod
    def decode(cls, raw: list[Any]) -> ArtisanDues:
        registered, months, monthly, paid_through, open_reference_id = raw
        dues = Dues(
            [(dt.date.fromisoformat(month), centimes) for month, centimes in months],
            monthly,
            dt.date.fromisoformat(paid_through) if paid_through else None,
        )
        return cls(registered, dues, open_reference_id)


class MenuPayments:
    def __init__(
        self,
        *,
        db: Session,
        settings: Settings,
        clock: Callable[[], dt.datetime],
        memo: SessionMemo | None = None,
    ) -> None:
        self.db = db
        self.service = PaymentService(db=db, settings=settings, clock=clock)
        self.clock = clock
        self.memo = memo or SessionMemo()
        self._looked_up: dict[tuple[str, str], ReferenceInfo] = {}

    def _info(self, reference: PaymentReference) -> ReferenceInfo:
        artisan = self.db.get(Artisan, reference.artisan_id)
        return ReferenceInfo(
            id=reference.id,
            reference=reference.reference,
            network=reference.network,
            first_month=reference.first_month,
            month_count=reference.month_count,
            amount_centimes=reference.amount_centimes,
            expires_at=reference.expires_at.astimezone(MOROCCO),
            state=self.service.reference_state(reference),
            artisan_name=mask_name(artisan.first_name, artisan.last_name) if artisan is not None else "",
        )

    def _account(self, artisan_id: int) -> Account:
        account = self.service.account(artisan_id)
        if account is None:
            raise Refused("artisan_not_found")
        return account

    def _dues(self, artisan_id: int) -> ArtisanDues:
        # Read once a session, in one statement: the dues screen, then the quote.
        def load() -> ArtisanDues:
            account = self._account(artisan_id)
            artisan = account.artisan
            registered = artisan.amo_status != "not_registered" and artisan.amo_start_month is not None
            return ArtisanDues(registered, self.service.dues(artisan, account.paid), account.open_reference_id)

        return self.memo.get(f"dues:{artisan_id}", load, encode=ArtisanDues.encode, decode=ArtisanDues.decode)

    def dues(self, artisan_id: int) -> DuesInfo:
        known = self._dues(artisan_id)
        dues = known.dues
        open_reference = None
        if known.open_reference_id is not None:  # read afresh: paid or expired since, it is not offered
            info = self.reference_of(artisan_id=artisan_id, reference_id=known.open_reference_id)
            open_reference = info if info is not None and info.state == "open" else None
        return DuesInfo(
            registered=known.registered,
            months=[month for month, _ in dues.months],
            total_centimes=dues.total_centimes,
            monthly_centimes=dues.monthly_centimes,
            paid_through=dues.paid_through,
            open_reference=open_reference,
        )

    def quote(self, artisan_id: int, count: int | None) -> Quote:
        due = self._dues(artisan_id).dues.months
        if count is None or 1 <= count <= min(len(due), MAX_MONTHS):
            months = due[:MAX_MONTHS] if count is None else due[:count]
        else:  # months ahead (or a count to refuse): the service reads what it needs
            try:
                months = self.service.months_to_pay(self._account(artisan_id), count)
            except Refusal as error:
                raise Refused(error.code) from None
        if not months:
            raise Refused("nothing_due")
        return Quote(
            first_month=months[0][0], month_count=len(months), total_centimes=sum(amount for _, amount in months)
        )

    def request_reference(self, *, artisan_id: int, count: int | None, network: str) -> tuple[ReferenceInfo, bool]:
        self._looked_up.clear()
        try:
            reference, reused = self.service.request_reference(artisan_id=artisan_id, count=count, network=network)
        except Refusal as error:
            raise Refused(error.code) from None
        return self._info(reference), reused

    def reference_of(self, *, artisan_id: int, reference_id: int) -> ReferenceInfo | None:
        reference = self.db.get(PaymentReference, reference_id)
        if reference is None or reference.artisan_id != artisan_id:
            return None
        return self._info(reference)

    def cancel_reference(self, *, artisan_id: int, reference_id: int) -> bool:
        self._looked_up.clear()
        return self.service.cancel_reference(artisan_id=artisan_id, reference_id=reference_id)

    def look_up(self, typed: str, *, network: str) -> ReferenceInfo:
        # A screen checks the typed reference, then the next shows it: one read per hop.
        key = (typed, network)
        if key not in self._looked_up:
            try:
                self._looked_up[key] = self._info(self.service.find_reference(typed, network=network))
            except Refusal as error:
                raise Refused(error.code) from None
        return self._looked_up[key]

    def confirm_cash(self, *, agent_id: int, typed: str) -> str:
        agent = self.db.get(Agent, agent_id)
        if agent is None or agent.status != "active":
            raise Refused("agent_inactive")
        self._looked_up.clear()
        try:
            return self.service.confirm(reference=typed, network=agent.network, agent=agent).payment.receipt_number
        except Refusal as error:
            raise Refused(error.code) from None

    def today_total(self, agent_id: int) -> tuple[int, int]:
        return self.service.agent_day_total(agent_id, local_today(self.clock()))


class MenuAgents:
    def __init__(
        self, *, db: Session, clock: Callable[[], dt.datetime], mark_key: bytes, memo: SessionMemo | None = None
    ) -> None:
        self.db = db
        self.mark_key = mark_key
        self.service = AgentService(db=db, clock=clock)
        self.memo = memo or SessionMemo()

    def agent(self, agent_id: int) -> AgentInfo | None:
        # Read once a session for the screens; confirming reads the agent afresh.
        def load() -> AgentInfo | None:
            agent = self.db.get(Agent, agent_id)
            if agent is None or agent.status == "disabled":
                return None
            return AgentInfo(id=agent.id, code=agent.agent_code, network=agent.network, locked=agent.status == "locked")

        return self.memo.get(f"agent:{agent_id}", load, encode=AGENT.encode, decode=AGENT.decode)

    def check_pin(self, agent_id: int, pin: str) -> tuple[PinOutcome, int]:
        # One statement: verify_pin reads the agent's row under lock.
        check: PinCheck = self.service.verify_pin(agent_id, pin)
        return PinOutcome(check.status.value), check.tries_left

    def prepare_pin(self, pin: str) -> str | None:
        # A keyed mark, not a hash: a light argon2 hash of a 4-6 digit PIN is searched in
        # minutes by whoever reads the session in Redis; the mark needs the key.
        return mark(self.mark_key, NEW_PIN, pin) if valid_pin(pin) else None

    def set_pin(self, *, agent_id: int, pin_mark: str, typed_again: str) -> bool:
        agent = self.db.get(Agent, agent_id)
        if agent is None or not valid_pin(typed_again) or not same_mark(self.mark_key, NEW_PIN, typed_again, pin_mark):
            return False
        agent.pin_hash = hash_pin(typed_again)
        self.db.flush()
        return True
