"""Reimbursement claims (gateway/reimbursements/service.py) on a real PostgreSQL, with the
demo artisans: Fatima (+212600000001, Arabic), Aicha (+212600000003, French) and Omar
(no phone), and a frozen clock (2026-11-24 10:00 UTC)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.errors import Refusal
from gateway.reimbursements.service import ClaimUpsert, resend_pick_up, upsert_claim
from gateway.sms.outbox import render, segments
from menus.i18n import Translator
from menus.ports import ResendOutcome
from models import Artisan, OutboxMessage, ReimbursementClaim
from tests.helpers import FrozenClock

FATIMA_CIN, AICHA_CIN, OMAR_CIN = "CD234567", "JK456789", "JB123456"
TODAY = dt.date(2026, 11, 24)


def upsert(db: Session, clock: FrozenClock, **changes: Any) -> ClaimUpsert:
    values: dict[str, Any] = {
        "claim_number": "CLM-2026-0042",
        "cin": AICHA_CIN,
        "amount_centimes": 32050,
        "status": "received",
    } | changes
    return upsert_claim(db, **values, clock=clock, default_language="ar")


def available(**changes: Any) -> dict[str, Any]:
    return {
        "status": "available",
        "network": "wafacash",
        "pick_up_code": "WF-7781-0042",
        "available_until": dt.date(2026, 12, 8),
    } | changes


def sms(db: Session, claim: ReimbursementClaim | None = None) -> list[OutboxMessage]:
    """The claims' SMS in the outbox, oldest first (only `claim`'s when given)."""
    query = select(OutboxMessage).where(OutboxMessage.template.startswith("claim_")).order_by(OutboxMessage.id)
    if claim is not None:
        query = query.where(OutboxMessage.subject == f"claim:{claim.id}")
    return list(db.scalars(query))


def test_a_new_claim_queues_one_sms_in_the_artisans_language(demo: Session, clock: FrozenClock) -> None:
    claim, changed, created = upsert(demo, clock)
    assert (changed, created) == (True, True)
    assert (claim.status, claim.amount_centimes, claim.status_changed_at) == ("received", 32050, clock())
    [message] = sms(demo)
    assert (message.recipient, message.language, message.template) == ("+212600000003", "fr", "claim_received")
    assert message.subject == f"claim:{claim.id}" and not message.urgent
    assert message.body == render("claim_received", "fr", claim="CLM-2026-0042", amount="320,50 MAD")
    assert message.created_at == clock()


def test_each_status_change_queues_exactly_one_sms_and_the_same_status_none(demo: Session, clock: FrozenClock) -> None:
    claim, *_ = upsert(demo, clock)
    # (what is reported, whether it changes the claim, the SMS queued so far)
    steps: list[tuple[dict[str, Any], bool, list[str]]] = [
        ({"status": "received"}, False, ["received"]),
        ({"status": "in_review"}, True, ["received", "in_review"]),
        ({"status": "in_review"}, False, ["received", "in_review"]),
        ({"status": "approved"}, True, ["received", "in_review", "approved"]),
        (available(), True, ["received", "in_review", "approved", "available"]),
        (available(), False, ["received", "in_review", "approved", "available"]),
        ({"status": "paid_out"}, True, ["received", "in_review", "approved", "available", "paid_out"]),
        (
            {"status": "rejected", "reason": "Doublon"},
            True,
            ["received", "in_review", "approved", "available", "paid_out", "rejected"],
        ),
    ]
    for changes, changed, statuses in steps:
        clock.advance(hours=1)
        _, was_changed, created = upsert(demo, clock, **changes)
        assert (was_changed, created) == (changed, False), changes
        assert [m.template for m in sms(demo, claim)] == [f"claim_{status}" for status in statuses], changes
    demo.refresh(claim)
    assert claim.status == "rejected" and claim.status_changed_at == clock()


def test_the_available_sms_says_where_how_and_until_when(demo: Session, clock: FrozenClock) -> None:
    upsert(demo, clock, cin=FATIMA_CIN, claim_number="CLM-1", amount_centimes=45000, **available())
    [message] = sms(demo)
    ar = Translator("ar")
    assert message.template == "claim_available" and message.language == "ar"
    assert message.body == render(
        "claim_available", "ar", amount=ar.money(45000), network=ar("Wafacash"), code="WF-7781-0042", until="08/12/2026"
    )
    assert "WF-7781-0042" in message.body and "450.00" in message.body and "08/12/2026" in message.body


def test_a_change_other_than_the_status_is_stored_without_sms(demo: Session, clock: FrozenClock) -> None:
    claim, *_ = upsert(demo, clock)
    clock.advance(hours=1)
    again, changed, created = upsert(demo, clock, amount_centimes=30000)
    assert (again.id, changed, created, again.amount_centimes) == (claim.id, True, False, 30000)
    assert again.updated_at == clock() and again.status_changed_at == clock() - dt.timedelta(hours=1)
    assert len(sms(demo)) == 1


def test_put_replaces_the_whole_claim(demo: Session, clock: FrozenClock) -> None:
    upsert(demo, clock, **available())
    claim, changed, _ = upsert(demo, clock, status="paid_out")
    assert changed and (claim.network, claim.pick_up_code, claim.available_until) == (None, None, None)


def test_a_claim_found_by_cnss_number_and_by_both(demo: Session, clock: FrozenClock) -> None:
    claim, _, created = upsert(demo, clock, cin=None, cnss_number="1000000003")
    assert created and demo.get(Artisan, claim.artisan_id).cin == AICHA_CIN  # type: ignore[union-attr]
    _, changed, created = upsert(demo, clock, cin=AICHA_CIN.lower(), cnss_number="1000000003")
    assert (changed, created) == (False, False)


def test_an_artisan_without_a_phone_gets_no_sms(demo: Session, clock: FrozenClock) -> None:
    claim, _, created = upsert(demo, clock, cin=OMAR_CIN)
    assert created and claim.status == "received"
    upsert(demo, clock, cin=OMAR_CIN, status="approved")
    assert sms(demo) == []


def test_the_default_language_speaks_to_an_artisan_who_chose_none(demo: Session, clock: FrozenClock) -> None:
    upsert_claim(
        demo, claim_number="C-1", cin=FATIMA_CIN, amount_centimes=100, status="received", clock=clock,
        default_language="fr",
    )  # fmt: skip
    assert [m.language for m in sms(demo)] == ["fr"]


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"cin": "XX999999"}, "artisan_not_found"),
        ({"cin": None, "cnss_number": "999"}, "artisan_not_found"),
        ({"cin": AICHA_CIN, "cnss_number": "1000000001"}, "artisan_not_found"),  # Fatima's CNSS number
        ({"cin": None}, "invalid_field"),
        ({"cin": "123"}, "invalid_field"),
        ({"cnss_number": "12a"}, "invalid_field"),
        ({"claim_number": ""}, "invalid_field"),
        ({"claim_number": "-CLM"}, "invalid_field"),
        ({"claim_number": "C" * 41}, "invalid_field"),
        ({"claim_number": "CLM 1"}, "invalid_field"),
        ({"amount_centimes": -1}, "invalid_field"),
        ({"amount_centimes": 2**31}, "invalid_field"),
        ({"amount_centimes": True}, "invalid_field"),
        ({"amount_centimes": 1.5}, "invalid_field"),
        ({"status": "lost"}, "invalid_field"),
        ({"status": "Received"}, "invalid_field"),
        ({"network": "western_union"}, "invalid_field"),
        ({"pick_up_code": "X" * 33}, "invalid_field"),
        ({"pick_up_code": "code with spaces"}, "invalid_field"),
        ({"reason": ""}, "invalid_field"),
        ({"reason": "x" * 256}, "invalid_field"),
        ({"reason": "line\nbreak"}, "invalid_field"),
        ({"reason": "\ud800"}, "invalid_field"),
        ({"status": "available"}, "inconsistent_fields"),
        (available(network=None), "inconsistent_fields"),
        (available(pick_up_code=None), "inconsistent_fields"),
        (available(available_until=None), "inconsistent_fields"),
        (available(available_until=TODAY - dt.timedelta(days=1)), "inconsistent_fields"),
        ({"status": "rejected"}, "inconsistent_fields"),
    ],
)
def test_bad_claims_are_refused_and_leave_nothing(
    demo: Session, clock: FrozenClock, changes: dict[str, Any], code: str
) -> None:
    with pytest.raises(Refusal) as refused:
        upsert(demo, clock, **changes)
    assert refused.value.code == code
    assert demo.scalar(select(func.count()).select_from(ReimbursementClaim).where(
        ReimbursementClaim.claim_number.not_like("DEMO-%")
    )) == 0  # fmt: skip
    assert sms(demo) == []


def test_available_until_today_is_accepted(demo: Session, clock: FrozenClock) -> None:
    # 23:30 UTC on the 24th is already the 25th in Casablanca (UTC+1).
    clock.advance(hours=13, minutes=30)
    with pytest.raises(Refusal):
        upsert(demo, clock, **available(available_until=TODAY))
    assert upsert(demo, clock, **available(available_until=TODAY + dt.timedelta(days=1))).created


def test_an_old_available_claim_sent_again_unchanged_is_not_refused(demo: Session, clock: FrozenClock) -> None:
    upsert(demo, clock, **available(available_until=TODAY))
    clock.advance(days=3)
    _, changed, _ = upsert(demo, clock, **available(available_until=TODAY))
    assert not changed


def test_a_claim_stays_with_its_artisan(demo: Session, clock: FrozenClock) -> None:
    upsert(demo, clock)
    with pytest.raises(Refusal) as refused:
        upsert(demo, clock, cin=FATIMA_CIN, status="approved")
    assert refused.value.code == "claim_artisan_mismatch"
    assert len(sms(demo)) == 1


def test_two_artisans_with_one_cnss_number_are_ambiguous(demo: Session, clock: FrozenClock) -> None:
    omar = demo.scalar(select(Artisan).where(Artisan.cin == OMAR_CIN))
    assert omar is not None
    omar.cnss_number = "1000000003"  # Aicha's
    demo.flush()
    with pytest.raises(Refusal) as refused:
        upsert(demo, clock, cin=None, cnss_number="1000000003")
    assert refused.value.code == "artisan_ambiguous"
    assert upsert(demo, clock, cnss_number="1000000003").created  # with the CIN it is clear


@pytest.mark.parametrize("language", ["ar", "fr"])
# Arabic, Latin, French words, GSM-7 characters that cost two septets, characters beyond the BMP.
@pytest.mark.parametrize("reason", ["ر" * 255, "W" * 255, "Pièce manquante : ordonnance. " * 8, "{[]}" * 63, "𝐀" * 255])
def test_a_long_reason_is_shortened_to_fit_two_segments(
    demo: Session, clock: FrozenClock, language: str, reason: str
) -> None:
    claim, *_ = upsert_claim(
        demo, claim_number="C" * 40, cin=FATIMA_CIN, amount_centimes=2**31 - 1, status="rejected",
        reason=reason[:255], clock=clock, default_language=language,
    )  # fmt: skip
    [message] = sms(demo)
    assert message.segments <= 2 and segments(message.body)[0] <= 2
    assert message.body.endswith("...") and reason[:5] in message.body
    assert claim.reason == reason[:255]  # the menu shows it whole


def test_a_short_reason_is_sent_whole(demo: Session, clock: FrozenClock) -> None:
    upsert(demo, clock, status="rejected", reason="Ordonnance manquante")
    [message] = sms(demo)
    assert message.template == "claim_rejected" and message.body.endswith("Ordonnance manquante")


# Sending the pick-up code again ------------------------------------------------------------------


def resend(db: Session, clock: FrozenClock, claim: ReimbursementClaim, artisan_id: int | None = None) -> ResendOutcome:
    return resend_pick_up(
        db, artisan_id=artisan_id or claim.artisan_id, claim_id=claim.id, clock=clock, default_language="ar"
    )


def test_the_pick_up_sms_goes_at_most_three_times_a_casablanca_day(demo: Session, clock: FrozenClock) -> None:
    claim, *_ = upsert(demo, clock, **available())
    # The first notice counts: two more today.
    assert [resend(demo, clock, claim) for _ in range(3)] == [
        ResendOutcome.SENT,
        ResendOutcome.SENT,
        ResendOutcome.LIMIT,
    ]
    pick_ups = sms(demo, claim)
    assert [m.template for m in pick_ups] == ["claim_available"] * 3
    assert [m.urgent for m in pick_ups] == [False, True, True]  # asked for, and awaited: not held back at night
    assert len({m.body for m in pick_ups}) == 1
    clock.advance(hours=13)  # 23:00 UTC, midnight in Casablanca: a new day
    assert resend(demo, clock, claim) is ResendOutcome.SENT
    assert len(sms(demo, claim)) == 4


def test_the_pick_up_sms_is_only_for_the_artisans_available_claim(demo: Session, clock: FrozenClock) -> None:
    claim, *_ = upsert(demo, clock)
    assert resend(demo, clock, claim) is ResendOutcome.NOT_AVAILABLE  # received, not available
    upsert(demo, clock, **available())
    fatima = demo.scalar(select(Artisan.id).where(Artisan.cin == FATIMA_CIN))
    assert resend(demo, clock, claim, artisan_id=fatima) is ResendOutcome.NOT_AVAILABLE  # not hers
    clock.advance(days=15)
    assert resend(demo, clock, claim) is ResendOutcome.NOT_AVAILABLE  # past its date
    assert len(sms(demo, claim)) == 2
