"""Option 3 (my reimbursements) dialed over AT's protocol, with the demo data: Fatima
(+212600000001) has DEMO-CLM-0001 (450.00, available at Fellah Cash) and the older
DEMO-CLM-0002 (210.00, paid out). Texts are checked through the catalogues (`Translator`),
so that the tests hold whatever the translations say."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.demo import load_demo
from gateway.reimbursements.service import upsert_claim
from menus.i18n import Translator
from menus.ports import ResendOutcome
from menus.reimbursements import RESEND_NOTICES, STATUS_LABELS
from models import OutboxMessage, ReimbursementClaim
from tests.helpers import Dialer, FrozenClock

FATIMA, AICHA, UNLINKED = "+212600000001", "+212600000003", "+212600000009"
AR, FR = Translator("ar"), Translator("fr")


def whole(phone: Dialer, screen: str) -> str:
    """The screen with every page after it (98 until the last)."""
    text = screen
    while AR("98 More") in screen or FR("98 More") in screen:
        screen = phone.send("98")
        text += "\n" + screen
    return text


def demo_claim(db: Session, number: str = "DEMO-CLM-0001") -> ReimbursementClaim:
    claim = db.scalar(select(ReimbursementClaim).where(ReimbursementClaim.claim_number == number))
    assert claim is not None
    return claim


def pick_up_sms(db: Session, claim: ReimbursementClaim) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(
        OutboxMessage.subject == f"claim:{claim.id}", OutboxMessage.template == "claim_available"
    )
    return list(db.scalars(query.order_by(OutboxMessage.id)))


def test_fatima_sees_her_claims_newest_first(dial: type[Dialer]) -> None:
    phone = dial(FATIMA)
    phone.start()
    text = whole(phone, phone.send("3"))
    newest = f"1 12/11 {AR.money(45000)} {AR(STATUS_LABELS['available'])}"
    older = f"2 21/08 {AR.money(21000)} {AR(STATUS_LABELS['paid_out'])}"
    assert newest in text and older in text and text.index(newest) < text.index(older)
    assert "450.00" in text and "FC-4821-7730" not in text  # the code is in the details only


def test_details_of_an_available_claim(dial: type[Dialer]) -> None:
    phone = dial(FATIMA)
    phone.start()
    phone.send("3")
    text = whole(phone, phone.send("1"))
    for line in (
        AR("Claim no. {number}", number="DEMO-CLM-0001"),
        AR("Amount: {amount}", amount=AR.money(45000)),
        AR("Status: {status}", status=AR(STATUS_LABELS["available"])),
        AR("At {network}", network=AR("Fellah Cash")),
        AR("Pick-up code: {code}", code="FC-4821-7730"),
        AR("Valid until {when}", when="08/12/2026"),  # today + 14 days
        AR("1 Send the code again by SMS"),
    ):
        assert line in text, line


def test_details_of_a_paid_out_claim_offer_no_code(dial: type[Dialer]) -> None:
    phone = dial(FATIMA)
    phone.start()
    phone.send("3")
    text = whole(phone, phone.send("2"))
    assert AR("Claim no. {number}", number="DEMO-CLM-0002") in text and "210.00" in text
    assert "WF-1934-2208" not in text and AR("1 Send the code again by SMS") not in text
    assert phone.send("1").startswith("CON " + AR("Invalid choice."))


def test_the_pick_up_sms_is_sent_again_three_times_a_day_then_refused(
    dial: type[Dialer], demo: Session, clock: FrozenClock
) -> None:
    phone = dial(FATIMA)
    phone.start()
    phone.send("3", "1")
    for _ in range(3):
        assert phone.send("1").startswith("CON " + AR(RESEND_NOTICES[ResendOutcome.SENT]))
    refused = phone.send("1")
    assert refused.startswith("CON " + AR(RESEND_NOTICES[ResendOutcome.LIMIT]))
    claim = demo_claim(demo)
    sent = pick_up_sms(demo, claim)
    assert len(sent) == 3
    assert {(m.recipient, m.language, m.urgent) for m in sent} == {(FATIMA, "ar", True)}
    assert all("FC-4821-7730" in m.body and "450.00" in m.body and "08/12/2026" in m.body for m in sent)
    # The session goes on: back to the list still works.
    assert "12/11" in phone.send("0")
    # Tomorrow (Casablanca), once more.
    clock.advance(hours=14)
    again = dial(FATIMA)
    again.start()
    # The first session was left on a claim (information): no resume offer, the main menu.
    again.send("3", "1")
    assert again.send("1").startswith("CON " + AR(RESEND_NOTICES[ResendOutcome.SENT]))
    assert len(pick_up_sms(demo, claim)) == 4


def test_a_wrong_number_on_the_list_is_refused(dial: type[Dialer]) -> None:
    phone = dial(FATIMA)
    phone.start()
    phone.send("3")
    for typed in ("3", "x"):
        assert phone.send(typed).startswith("CON " + AR("Invalid choice.")), typed
    assert phone.send("11").startswith("END ")  # the third wrong answer in a row ends the session


def test_no_claims_says_so_in_french(dial: type[Dialer]) -> None:
    phone = dial(AICHA)
    phone.start()
    text = phone.send("3")
    assert FR("You have no claims yet.") in text and FR("Reimbursements of medical costs") in text
    assert FR("1 My registration") in phone.send("0")


def test_a_rejected_claim_shows_its_reason(dial: type[Dialer], demo: Session, clock: FrozenClock) -> None:
    upsert_claim(
        demo, claim_number="CLM-9", cin="JK456789", amount_centimes=12000, status="rejected",
        reason="Ordonnance non signée par le médecin traitant", clock=clock, default_language="ar",
    )  # fmt: skip
    demo.commit()
    phone = dial(AICHA)
    phone.start()
    assert f"1 24/11 {FR.money(12000)} {FR(STATUS_LABELS['rejected'])}" in phone.send("3")
    text = whole(phone, phone.send("1"))
    assert "Ordonnance non signée" in text and FR("Reason:") in text
    assert FR("Status: {status}", status=FR(STATUS_LABELS["rejected"])) in text


def test_an_unknown_phone_identifies_before_seeing_claims(dial: type[Dialer], demo: Session) -> None:
    phone = dial(UNLINKED)
    phone.start()
    assert "AB123456" in phone.send("3")  # the CIN first
    phone.send("JB123456")
    text = phone.send("1980")
    assert AR("Your phone is now linked to your file.") in text
    assert AR("Reimbursements of medical costs") in whole(phone, text)


def test_many_claims_are_paged_and_capped(dial: type[Dialer], demo: Session, clock: FrozenClock) -> None:
    for n in range(12):
        clock.advance(minutes=1)
        upsert_claim(
            demo, claim_number=f"CLM-{n:02d}", cin="CD234567", amount_centimes=1000 + n, status="in_review",
            clock=clock, default_language="ar",
        )  # fmt: skip
    demo.commit()
    phone = dial(FATIMA)
    phone.start()
    first = phone.send("3")
    text = whole(phone, first)
    assert len(phone.screens) > 3  # paged
    assert f"1 24/11 {AR.money(1011)}" in text and f"10 24/11 {AR.money(1002)}" in text
    lines = text.splitlines()
    assert not any(line.startswith("11 ") for line in lines) and "450.00" not in text  # ten at most
    assert AR("Claim no. {number}", number="CLM-09") in phone.send("3")  # any page: numbers are the list's


def test_reloading_the_demo_resets_fatimas_claims(demo: Session, clock: FrozenClock) -> None:
    claim = demo_claim(demo)
    claim.status = "paid_out"
    upsert_claim(
        demo, claim_number="CLM-X", cin="CD234567", amount_centimes=1, status="received", clock=clock,
        default_language="ar",
    )  # fmt: skip
    demo.commit()
    load_demo(demo, clock=clock)
    demo.commit()
    again = load_demo(demo, clock=clock)
    demo.commit()
    assert FATIMA in again
    rows = demo.scalars(select(ReimbursementClaim).order_by(ReimbursementClaim.created_at.desc())).all()
    assert [(c.claim_number, c.status, c.amount_centimes) for c in rows] == [
        ("DEMO-CLM-0001", "available", 45000),
        ("DEMO-CLM-0002", "paid_out", 21000),
    ]
    assert rows[0].id == claim.id and rows[0].network == "fellah_cash"
    assert rows[0].available_until == dt.date(2026, 12, 8)
