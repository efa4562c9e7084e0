"""Artisans dialing the short code over AT's protocol, on PostgreSQL and Redis."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Artisan, IdentificationAttempt, OutboxMessage, PhoneLink, PhonePreference
from tests.conftest import CALLBACK_KEY
from tests.helpers import Dialer


def test_main_menu_in_arabic_by_default(dial: type[Dialer]) -> None:
    reply = dial("+212600000001").start()
    assert reply.startswith("CON ")
    assert "1 تسجيلي" in reply and "6 اللغة" in reply


def test_french_speaker_gets_french(dial: type[Dialer]) -> None:
    reply = dial("+212600000003").start()
    assert "1 Mon inscription" in reply and "6 Langue" in reply


def test_status_of_covered_artisan_in_arabic(dial: type[Dialer]) -> None:
    phone = dial("+212600000001")
    phone.start()
    first = phone.send("1")
    # What she dialed for leads: the AMO status and the month paid up to, then the action.
    assert first.startswith("CON التأمين: مستفيد من التغطية\nمؤدى إلى غاية 10/2026\n1 الأداء الآن\n")
    text = first + phone.send("98") + phone.send("98")
    assert "**0001" in text and "DEMO-FES-0001" not in text
    assert "الفخار والخزف" in text


def test_status_of_pre_registered_artisan(dial: type[Dialer]) -> None:
    phone = dial("+212600000002")
    phone.start()
    phone.send("6", "2")  # French, to read it
    text = phone.send("1")
    assert "AMO : pré-immatriculé" in text
    assert "Payé" not in text


def test_suspended_artisan_sees_months_unpaid(dial: type[Dialer]) -> None:
    phone = dial("+212600000003")
    phone.start()
    text = phone.send("1")
    assert "AMO : suspendue, 5 mois impayés" in text
    assert "Payé jusqu'à 05/2026" in text
    assert text.startswith("CON ") and "1 Payer maintenant" in text


def test_unknown_phone_identifies_and_is_linked(dial: type[Dialer], demo: Session) -> None:
    phone = dial("+212600000009")
    phone.start()
    assert "AB123456" in phone.send("1")
    assert "1980" in phone.send(" jb 123456 ")  # trimmed, spaces and case forgiven
    reply = phone.send("1980")
    assert "تم ربط هاتفك بملفك." in reply
    omar = demo.scalar(select(Artisan).where(Artisan.cin == "JB123456"))
    assert omar is not None and omar.phone == "+212600000009"
    assert demo.scalar(
        select(PhoneLink).where(PhoneLink.phone == "+212600000009", PhoneLink.method == "identification")
    )
    sms = demo.scalars(select(OutboxMessage).where(OutboxMessage.recipient == "+212600000009")).all()
    assert [m.template for m in sms] == ["phone_linked"] and sms[0].language == "ar"
    # The next dial knows the phone: option 1 goes straight to the status.
    again = dial("+212600000009")
    again.start()
    assert "**0009" in again.send("1", "98")


def test_wrong_birth_year_counts_down_then_locks_for_24_hours(dial: type[Dialer], demo: Session, clock: object) -> None:
    phone = dial("+212600000009")
    phone.start()
    phone.send("6", "2", "1")
    assert "Essais restants : 2" in phone.send("JB123456", "1981")
    assert "Essais restants : 1" in phone.send("1", "JB123456", "1982")
    final = phone.send("1", "JB123456", "1983")
    assert final.startswith("END ") and "24 heures" in final
    # Locked: even the right answer is refused, from this phone...
    retry = dial("+212600000009")
    retry.start()
    assert "24 heures" in retry.send("1") and retry.screens[-1].startswith("END ")
    # ...and for that CIN from another phone.
    other = dial("+212611111111")
    other.start()
    locked = other.send("1", "JB123456", "1980")
    assert locked.startswith("END ") and "24" in locked
    assert demo.scalar(select(Artisan.phone).where(Artisan.cin == "JB123456")) is None


def test_lockout_ends_after_24_hours(dial: type[Dialer], demo: Session, clock: object) -> None:
    phone = dial("+212600000009")
    phone.start()
    phone.send("1", "JB123456", "1981", "1", "JB123456", "1982", "1", "JB123456", "1983")
    assert phone.screens[-1].startswith("END ")
    clock.advance(hours=24, minutes=1)  # type: ignore[attr-defined]
    retry = dial("+212600000009")
    retry.start()
    assert "تم ربط هاتفك" in retry.send("1", "JB123456", "1980")


def test_unknown_cin_gets_rna_help_and_sms(dial: type[Dialer], demo: Session) -> None:
    phone = dial("+212622222222")
    phone.start()
    reply = phone.send("1", "ZZ999999", "1990")
    # Every choice on the first Arabic page: try again, the SMS, ask to be registered.
    assert "2 كيف أسجل (رسالة)" in reply and "3 اطلب التسجيل" in reply and "\n98 " not in reply
    end = phone.send("2")
    assert end.startswith("END ")
    message = demo.scalar(select(OutboxMessage).where(OutboxMessage.recipient == "+212622222222"))
    assert message is not None and message.template == "rna_registration_help"
    assert message.encoding == "ucs2" and message.segments <= 2
    # No CIN in clear at rest: the attempt keeps a keyed digest only.
    attempt = demo.scalar(select(IdentificationAttempt).where(IdentificationAttempt.phone == "+212622222222"))
    assert attempt is not None and "ZZ999999" not in attempt.cin_digest and attempt.outcome == "unknown_cin"


def test_language_choice_is_stored_on_artisan_and_on_unknown_phone(dial: type[Dialer], demo: Session) -> None:
    phone = dial("+212600000001")
    phone.start()
    reply = phone.send("6", "2")
    assert "Langue enregistrée." in reply and "1 Mon inscription" in reply
    assert demo.scalar(select(Artisan.language).where(Artisan.phone == "+212600000001")) == "fr"
    stranger = dial("+212633333333")
    stranger.start()
    stranger.send("6", "2")
    assert demo.get(PhonePreference, "+212633333333").language == "fr"  # type: ignore[union-attr]
    assert "Mon inscription" in dial("+212633333333").start()


def test_option_4_opens_the_cash_points(dial: type[Dialer]) -> None:
    # 4 is the cash points (tests/functional/test_cashpoint_flows.py), 5 help and services
    # (tests/functional/test_help_flows.py): no option answers "coming soon" any more.
    phone = dial("+212600000003")
    phone.start()
    assert "1 Tanger-Tétouan-Al Hoceima" in phone.send("4")
    assert "1 Mon inscription" in phone.send("0")  # back to the menu


def test_navigation_back_home_and_more(dial: type[Dialer]) -> None:
    phone = dial("+212600000001")
    phone.start()
    page_one = phone.send("1")
    assert "98 المزيد" in page_one
    page_two = phone.send("98")
    assert page_two != page_one
    last = page_two
    while "98 المزيد" in last:
        last = phone.send("98")
    assert "1 الأداء الآن" in page_one and "1 الأداء الآن" not in last  # the choice on the first page
    assert phone.send("98") == last  # 98 on the last page keeps it
    while last != page_one:
        last = phone.send("0")  # back a page at a time, to the first
    assert phone.send("0") != page_one  # then back a screen
    assert "1 تسجيلي" in phone.screens[-1]
    phone.send("1", "98")
    assert "1 تسجيلي" in phone.send("00")  # home from anywhere


def test_three_wrong_answers_end_politely(dial: type[Dialer]) -> None:
    phone = dial("+212600000003")
    phone.start()
    first = phone.send("7")
    assert first.startswith("CON Choix invalide.")
    assert phone.send("abc").startswith("CON Choix invalide.")
    last = phone.send("9")
    assert last.startswith("END ") and "Trop d'erreurs" in last


def test_a_good_answer_resets_the_wrong_answer_count(dial: type[Dialer]) -> None:
    phone = dial("+212600000003")
    phone.start()
    phone.send("7", "8", "1")
    assert phone.send("5").startswith("CON Choix invalide.")


def test_user_typed_star_is_one_answer(dial: type[Dialer], demo: Session) -> None:
    phone = dial("+212600000009")
    phone.start()
    phone.send("1")
    reply = phone.send("JB*123")  # a `*` typed inside an answer: one (invalid) CIN
    assert "CON " in reply and "حرف أو حرفان" in reply


def test_dial_string_with_inputs_goes_straight_to_the_option(dial: type[Dialer]) -> None:
    phone = dial("+212600000003")
    phone.typed = ["1"]  # *4242*1# : AT sends text "1" on the first request
    assert "AMO : suspendue" in phone.start()


def test_replayed_request_returns_identical_bytes_and_runs_nothing(dial: type[Dialer], demo: Session) -> None:
    phone = dial("+212622222222")
    phone.start()
    phone.send("1", "ZZ999999")
    first = phone.send("1990")
    attempts = demo.scalar(select(func.count()).select_from(IdentificationAttempt))
    assert phone.replay() == first
    assert phone.replay() == first
    assert demo.scalar(select(func.count()).select_from(IdentificationAttempt)) == attempts


def test_foreign_number_gets_polite_end_without_state(dial: type[Dialer], app: object) -> None:
    phone = dial("+33612345678")
    reply = phone.start()
    assert reply.startswith("END ") and "marocains" in reply and "المغربية" in reply
    store = app.extensions["hirfa"].session_store  # type: ignore[attr-defined]
    loaded = store.load("africastalking", phone.session_id, "+33612345678", hop=False)
    assert loaded.record is None and loaded.resume is None and loaded.phone_hops == 0


@pytest.mark.parametrize("query", ["", "?key=wrong", "?key=" + CALLBACK_KEY[:-1]])
def test_callback_without_the_key_is_refused(client: FlaskClient, query: str) -> None:
    response = client.post(
        "/ussd/africastalking" + query,
        data={"sessionId": "s1", "serviceCode": "*4242#", "phoneNumber": "+212600000001", "text": ""},
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    "form",
    [
        {"serviceCode": "*4242#", "phoneNumber": "+212600000001", "text": ""},
        {"sessionId": "s2", "phoneNumber": "+212600000001", "text": ""},
        {"sessionId": "s2", "serviceCode": "*4242#", "text": ""},
        {"sessionId": "s2", "serviceCode": "*4242#", "phoneNumber": "+212600000001"},
        {"sessionId": "s2", "serviceCode": "*4242#", "phoneNumber": "not a phone", "text": ""},
        {"sessionId": "bad id with spaces", "serviceCode": "*4242#", "phoneNumber": "+212600000001", "text": ""},
        {"sessionId": "s2", "serviceCode": "DROP TABLE", "phoneNumber": "+212600000001", "text": ""},
        {"sessionId": "s2", "serviceCode": "*4242#", "phoneNumber": "+212600000001", "text": "1" * 2000},
    ],
)
def test_malformed_callback_is_400_and_touches_nothing(client: FlaskClient, app: object, form: dict[str, str]) -> None:
    response = client.post(f"/ussd/africastalking?key={CALLBACK_KEY}", data=form)
    assert response.status_code == 400
    store = app.extensions["hirfa"].session_store  # type: ignore[attr-defined]
    loaded = store.load("africastalking", "s2", "+212600000001", hop=False)
    assert loaded.record is None and loaded.phone_hops == 0


def test_unknown_aggregator_is_404(client: FlaskClient) -> None:
    assert client.post(f"/ussd/nosuch?key={CALLBACK_KEY}", data={}).status_code == 404
    assert client.post(f"/ussd/..%2Fetc?key={CALLBACK_KEY}", data={}).status_code == 404


def test_every_demo_screen_fits_its_budget_in_both_languages(dial: type[Dialer]) -> None:
    # The dialer asserts CON/END and the budget on every screen it sees.
    for number in ("+212600000001", "+212600000002", "+212600000003"):
        for language in ("1", "2"):
            phone = dial(number)
            phone.start()
            phone.send("6", language, "1")
            while "98" in phone.screens[-1] and phone.screens[-1].startswith("CON "):
                phone.send("98")


def test_reminders_can_be_stopped_and_started_from_the_menu(dial: type[Dialer], demo: Session) -> None:
    phone = dial("+212600000003")
    phone.start()
    assert "Rappels arrêtés." in phone.send("6", "3")
    assert demo.scalar(select(Artisan.sms_opt_out).where(Artisan.phone == "+212600000003")) is True
    assert "Rappels activés." in phone.send("6", "4")
    assert demo.scalar(select(Artisan.sms_opt_out).where(Artisan.phone == "+212600000003")) is False
    stranger = dial("+212633333334")
    stranger.start()
    assert "Rappels" not in stranger.send("6")  # no file, no reminders to stop
