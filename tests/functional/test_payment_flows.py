"""Option 2 (pay AMO) and the agent's menu, dialed over AT's protocol."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Agent, Artisan, OutboxMessage, PaidMonth, Payment, PaymentReference
from tests.helpers import Dialer, FrozenClock

YOUSSEF, FATIMA, AICHA = "+212600000002", "+212600000001", "+212600000003"
WAFACASH_AGENT, FELLAH_AGENT = "+212700000001", "+212700000002"


def reference_in(screen: str) -> str:
    found = re.search(r"(\d{3}-\d{3}-\d{4})", screen)
    assert found, screen
    return found.group(1).replace("-", "")


def pay(dial: type[Dialer], phone_number: str, *answers: str) -> Dialer:
    phone = dial(phone_number)
    phone.start()
    phone.send("2", *answers)
    return phone


def test_dues_of_pre_registered_artisan(dial: type[Dialer]) -> None:
    phone = dial(YOUSSEF)
    phone.start()
    phone.send("6", "2")  # French
    screen = phone.send("2")
    assert "Par mois : 135,00 MAD" in screen
    assert "Reste à payer : 3 mois (09/2026-11/2026)" in screen
    assert "Total : 405,00 MAD" in screen


def test_pay_all_due_at_wafacash_gives_a_reference_and_an_sms(dial: type[Dialer], demo: Session) -> None:
    phone = pay(dial, YOUSSEF, "1", "1")
    confirm = phone.screens[-1]
    assert "3 أشهر: \u200e09/2026-11/2026" in confirm and "405.00 درهم" in confirm and "وفاكاش" in confirm
    result = phone.send("1")
    text = result + (phone.send("98") if result.startswith("CON ") else "")
    assert phone.screens[-1].startswith("END ")
    reference = reference_in(text)
    row = demo.scalar(select(PaymentReference).where(PaymentReference.reference == reference))
    assert row is not None and row.status == "open" and row.network == "wafacash"
    assert row.month_count == 3 and row.amount_centimes == 40500
    assert (row.expires_at - row.created_at).total_seconds() == 72 * 3600
    sms = demo.scalar(select(OutboxMessage).where(OutboxMessage.template == "payment_reference"))
    assert sms is not None and sms.recipient == YOUSSEF and reference[:3] in sms.body and sms.segments <= 2


def test_the_same_months_give_the_same_reference(dial: type[Dialer], demo: Session) -> None:
    first = pay(dial, YOUSSEF, "1", "2", "1")
    first_text = "".join(first.screens[-2:])
    again = pay(dial, YOUSSEF, "1", "2", "1")
    text = again.screens[-1] + (again.send("98") if again.screens[-1].startswith("CON ") else "")
    assert reference_in(text) == reference_in(first_text + first.screens[-1])
    assert "لديك هذا المرجع من قبل." in text
    assert demo.scalar(select(func.count()).select_from(PaymentReference)) == 1


def test_choose_months_due_first_then_ahead(dial: type[Dialer], demo: Session) -> None:
    phone = pay(dial, FATIMA, "2", "3", "2")  # 3 months at Fellah Cash: 11/2026 due, then 2 ahead
    assert "3 أشهر: \u200e11/2026-01/2027" in phone.screens[-1] and "405.00 درهم" in phone.screens[-1]
    phone.send("1")
    row = demo.scalar(select(PaymentReference))
    assert row is not None and row.network == "fellah_cash" and row.first_month.isoformat() == "2026-11-01"


def test_month_count_is_checked(dial: type[Dialer]) -> None:
    phone = pay(dial, AICHA, "2")
    assert phone.send("13").startswith("CON Choisissez de 1 à 12 mois.")
    assert phone.send("0x").startswith("CON Choisissez de 1 à 12 mois.")


def test_open_reference_can_be_cancelled(dial: type[Dialer], demo: Session) -> None:
    pay(dial, AICHA, "1", "1", "1")
    phone = pay(dial, AICHA, "3")
    assert "1 Annuler cette référence" in phone.screens[-1]
    assert "Référence annulée." in phone.send("1")
    assert demo.scalar(select(PaymentReference.status)) == "cancelled"
    # The dues this session showed before are read again: no reference to offer now.
    dues = phone.send("2")
    assert "Total : " in dues and "3 Ma référence en cours" not in dues


def agent_session(dial: type[Dialer], phone_number: str, pin: str = "1234") -> Dialer:
    agent = dial(phone_number)
    assert "القن السري" in agent.start()
    assert "1 تأكيد أداء" in agent.send(pin)
    return agent


def test_agent_confirms_a_payment_once(dial: type[Dialer], demo: Session, clock: FrozenClock) -> None:
    artisan = pay(dial, YOUSSEF, "1", "1", "1")
    reference = reference_in("".join(artisan.screens[-2:]))
    agent = agent_session(dial, WAFACASH_AGENT)
    shown = agent.send("1", reference[:3] + " " + reference[3:])
    assert "Youssef A." in shown and "405.00 درهم" in shown and "3 أشهر" in shown
    done = agent.send("1")
    assert "تم تسجيل الأداء." in done
    receipt = demo.scalar(select(Payment.receipt_number))
    assert receipt is not None and receipt.startswith("WF") and receipt in done + agent.send("98")
    assert agent.replay() == agent.screens[-1]
    assert demo.scalar(select(func.count()).select_from(Payment)) == 1
    youssef = demo.scalar(select(Artisan).where(Artisan.phone == YOUSSEF))
    assert youssef is not None
    assert demo.scalar(select(func.count()).select_from(PaidMonth).where(PaidMonth.artisan_id == youssef.id)) == 3
    templates = {m.template: m.recipient for m in demo.scalars(select(OutboxMessage))}
    assert templates["payment_receipt"] == YOUSSEF and templates["agent_receipt"] == WAFACASH_AGENT
    # The artisan's status now shows the months paid and the waiting period.
    status = dial(YOUSSEF)
    status.start()
    text = status.send("1") + status.send("98")
    # Paid in 11/2026: the waiting period is the three months after, to 02/2027.
    assert "مؤدى إلى غاية 11/2026" in text and "فترة التدريب حتى 02/2027" in text
    # A second agent confirming the same reference is refused.
    again = agent_session(dial, WAFACASH_AGENT)
    assert "مؤدى من قبل" in again.send("1", reference)


def test_agent_sees_only_his_network(dial: type[Dialer], demo: Session) -> None:
    artisan = pay(dial, YOUSSEF, "1", "1", "1")  # Wafacash
    reference = reference_in("".join(artisan.screens[-2:]))
    agent = agent_session(dial, FELLAH_AGENT)
    assert "مرجع غير معروف لدى شبكتك." in agent.send("2", reference)


def test_agent_refuses_a_mistyped_reference(dial: type[Dialer], demo: Session) -> None:
    artisan = pay(dial, YOUSSEF, "1", "1", "1")
    reference = reference_in("".join(artisan.screens[-2:]))
    # Two neighbours that differ (a random reference always has some; the leading digit
    # stays put): the Damm check digit catches every such swap.
    i = next(i for i in range(1, len(reference) - 1) if reference[i] != reference[i + 1])
    swapped = reference[:i] + reference[i + 1] + reference[i] + reference[i + 2 :]
    agent = agent_session(dial, WAFACASH_AGENT)
    assert "مرجع خاطئ" in agent.send("1", swapped)


def test_expired_reference_cannot_be_confirmed(dial: type[Dialer], demo: Session, clock: FrozenClock) -> None:
    artisan = pay(dial, YOUSSEF, "1", "1", "1")
    reference = reference_in("".join(artisan.screens[-2:]))
    clock.advance(hours=72, minutes=1)
    agent = agent_session(dial, WAFACASH_AGENT)
    assert "انتهت صلاحية هذا المرجع." in agent.send("1", reference)


def test_three_wrong_pins_lock_the_agent(dial: type[Dialer], demo: Session) -> None:
    agent = dial(WAFACASH_AGENT)
    agent.start()
    assert "المحاولات الباقية: 2" in agent.send("0000")
    assert "المحاولات الباقية: 1" in agent.send("1111")
    locked = agent.send("2222")
    assert locked.startswith("END ") and "موقوف" in locked
    assert demo.scalar(select(Agent.status).where(Agent.phone == WAFACASH_AGENT)) == "locked"
    retry = dial(WAFACASH_AGENT)
    assert retry.start().startswith("END ")  # even the right PIN cannot be tried


def test_agent_today_total_and_pin_change(dial: type[Dialer], demo: Session, app: object) -> None:
    artisan = pay(dial, YOUSSEF, "1", "1", "1")
    reference = reference_in("".join(artisan.screens[-2:]))
    agent = agent_session(dial, WAFACASH_AGENT)
    agent.send("1", reference, "1")
    total = agent_session(dial, WAFACASH_AGENT)
    assert "اليوم: 1 أداءات" in total.send("3") and "405.00 درهم" in total.screens[-1]
    change = agent_session(dial, WAFACASH_AGENT)
    change.send("4", "1234", "98765")
    assert "أعد كتابة" in change.screens[-1]
    assert "تم تغيير القن السري." in change.send("98765")
    raw = app.extensions["hirfa"].redis.get(  # type: ignore[attr-defined]
        app.extensions["hirfa"].session_store.key("africastalking", change.session_id)
    )  # type: ignore[attr-defined]
    assert b"98765" not in raw and b"1234" not in raw
    assert "1 تأكيد أداء" in agent_session(dial, WAFACASH_AGENT, pin="98765").screens[-1]
