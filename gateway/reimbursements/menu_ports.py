"""The reimbursements side of `menus.ports`: the artisan's claims seen by the menus."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from gateway.clock import MOROCCO
from gateway.config import Settings
from gateway.reimbursements.service import (
    Clock,
    artisan_claim,
    artisan_claims,
    pick_up_code_withheld_until,
    resend_pick_up,
)
from menus.ports import ClaimInfo, ResendOutcome
from models import Artisan, ReimbursementClaim


def claim_info(claim: ReimbursementClaim, *, code_withheld_until: dt.datetime | None = None) -> ClaimInfo:
    withheld = code_withheld_until is not None
    return ClaimInfo(
        id=claim.id,
        claim_number=claim.claim_number,
        date=claim.created_at.astimezone(MOROCCO).date(),
        amount_centimes=claim.amount_centimes,
        status=claim.status,
        network=claim.network,
        pick_up_code=None if withheld else claim.pick_up_code,
        available_until=claim.available_until,
        reason=claim.reason,
        code_from=code_withheld_until.astimezone(MOROCCO) if code_withheld_until is not None else None,
    )


class MenuReimbursements:
    def __init__(self, *, db: Session, settings: Settings, clock: Clock) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock

    def claims(self, artisan_id: int, *, limit: int) -> list[ClaimInfo]:
        return [claim_info(claim) for claim in artisan_claims(self.db, artisan_id=artisan_id, limit=limit)]

    def claim(self, *, artisan_id: int, claim_id: int) -> ClaimInfo | None:
        claim = artisan_claim(self.db, artisan_id=artisan_id, claim_id=claim_id)
        if claim is None:
            return None
        artisan = self.db.get(Artisan, artisan_id)
        withheld = pick_up_code_withheld_until(self.db, artisan=artisan, now=self.clock()) if artisan else None
        return claim_info(claim, code_withheld_until=withheld)

    def resend_pick_up(self, *, artisan_id: int, claim_id: int) -> ResendOutcome:
        return resend_pick_up(
            self.db,
            artisan_id=artisan_id,
            claim_id=claim_id,
            clock=self.clock,
            default_language=self.settings.default_language,
        )
