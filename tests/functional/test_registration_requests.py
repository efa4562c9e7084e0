"""RNA registration requests (issue 12, point 2): asked for over Africa's Talking's
protocol by a phone no file is linked to, stored once per CIN and per phone (racing
confirms included, on PostgreSQL and SQLite), rate-limited, never with the CIN in Redis,
and decided by staff on /ops."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway import db
from gateway.cashpoints import service as places
from gateway.demo import load_demo
from menus.i18n import Translator
from menus.registration import ALREADY_OPEN, LIMITED
from menus.trades import TRADES
from models import Artisan, OutboxMessage, PhoneLink, RegistrationRequest
from tests.functional.test_identification import _at_once, _dialer, _redis_values
from tests.functional.test_ops_dashboard import log_in, staff  # noqa: F401  (a fixture)
from tests.helpers import Dialer

NEWCOMER, CIN, YEAR = "+212600000010", "ZX123456", "1990"
OMAR_PHONE = "+212600000009"  # the demo's unlinked phone
TIZNIT_REGION, TIZNIT, TIZNIT_TOWN = "09", "09.581", "09.581.01.07"


def number_of(code: str, choices: list[str]) -> str:
    return str(choices.index(code) + 1)


REGION = number_of(TIZNIT_REGION, [area.code for area in places.regions()])
PROVINCE = number_of(TIZNIT, [area.code for area in places.provinces(TIZNIT_REGION)])
COMMUNE = number_of(TIZNIT_TOWN, [area.code for area in places.communes(TIZNIT)])
POTTERY = number_of("pottery", [trade.code for trade in TRADES])


def to_confirm(phone: Dialer, cin: str = CIN, *, via: tuple[str, ...] = ("5", "5")) -> str:
    """From the start of a session to the last screen, the request's summary."""
    phone.start()
    phone.send(*via, POTTERY, REGION, PROVINCE, COMMUNE, cin)
    return phone.send(YEAR)


def all_pages(phone: Dialer, first: str) -> list[str]:
    pages = [first]
    while "\n98 " in pages[-1]:
        pages.append(phone.send("98"))
    return pages


def open_requests(session: Session) -> list[RegistrationRequest]:
    return list(session.scalars(select(RegistrationRequest).where(RegistrationRequest.status == "open")))


@pytest.mark.parametrize("language", ["ar", "fr"])
def test_the_whole_flow_from_a_failed_identification_stores_the_request_and_its_sms(
    dial: type[Dialer], demo: Session, language: str
) -> None:
    t = Translator(language)
    phone = dial(NEWCOMER)
    phone.start()
    if language == "fr":
        phone.send("6", "2")
    # "1 My registration": an unknown CIN lands on the one answer, which offers the request.
    failed = phone.send("1", CIN, YEAR)
    assert t("3 Ask to be registered in the RNA") in "\n".join(all_pages(phone, failed))
    first = phone.send("3")
    assert t("Registration in the RNA: your trade") in first and "98" in first
    assert f"13 {TRADES[-1].name(language)}" in all_pages(phone, first)[-1]  # the 13 trades are paged
    phone.send(POTTERY, REGION, PROVINCE)
    communes = phone.screens[-1]
    assert f"{COMMUNE} {places.commune(TIZNIT_TOWN).name(language)}" in communes  # type: ignore[union-attr]
    phone.send(COMMUNE, CIN.lower())
    summary = phone.send(YEAR)
    # What will be sent, `1` first (on the first page), the end of the CIN as typed.
    assert summary.startswith("CON 1 " + t("Send my registration request"))
    text = "\n".join(all_pages(phone, summary))
    assert TRADES[0].name(language) in text and "**" + CIN[-4:] in text and YEAR in text
    assert places.commune(TIZNIT_TOWN).name(language) in text  # type: ignore[union-attr]
    done = phone.send("1")
    assert done.startswith("END ")
    [request] = open_requests(demo)
    assert (request.phone, request.cin, request.birth_year, request.trade) == (NEWCOMER, CIN, 1990, "pottery")
    assert (request.region_code, request.province_code, request.commune_code) == ("09", TIZNIT, TIZNIT_TOWN)
    assert request.language == language
    number = f"{request.id:06d}"
    assert number in done
    [sms] = demo.scalars(select(OutboxMessage).where(OutboxMessage.recipient == NEWCOMER)).all()
    assert sms.template == "rna_request_received" and sms.language == language and sms.segments <= 2
    assert number in sms.body and "0509000000" in sms.body  # the demo chamber of Souss-Massa
    assert ("بطاقتك الوطنية" if language == "ar" else "CIN") in sms.body and "…" not in sms.body


def test_option_5_takes_an_unlinked_phone_to_the_request_without_identifying(dial: type[Dialer], demo: Session) -> None:
    phone = dial(NEWCOMER)
    phone.start()
    menu = phone.send("5")
    assert Translator("ar")("5 Register in the RNA") in "\n".join(all_pages(phone, menu))
    assert Translator("ar")("Registration in the RNA: your trade") in phone.send("5")
    # The other lines of option 5 still need the file: they ask for the CIN first.
    other = dial("+212600000013")
    other.start()
    assert Translator("ar")("Enter your CIN number (e.g. AB123456):") in other.send("5", "1")


def test_a_second_request_from_the_phone_or_for_the_cin_is_refused_politely(dial: type[Dialer], demo: Session) -> None:
    to_confirm(dial(NEWCOMER))
    dial(NEWCOMER).typed  # noqa: B018
    first = dial(NEWCOMER)
    to_confirm(first)
    first.send("1")
    ar = Translator("ar")
    again = dial(NEWCOMER)
    again.start()
    refusal = again.send("5", "5")
    assert refusal.startswith("END ") and ar(ALREADY_OPEN, when="24/11/2026") in refusal
    other = dial("+212600000011")  # another phone, the same CIN: told the same, at the end
    to_confirm(other)
    answer = other.send("1")
    assert answer == "END " + ar(ALREADY_OPEN, when="24/11/2026")
    assert len(open_requests(demo)) == 1
    assert demo.scalar(select(func.count()).select_from(OutboxMessage)) == 1


def test_the_request_screens_are_rate_limited_per_phone(dial: type[Dialer], demo: Session) -> None:
    ar = Translator("ar")
    for cin in ("ZX100001", "ZX100002", "ZX100003"):  # three CINs typed, never sent
        phone = dial(NEWCOMER)
        to_confirm(phone, cin)
    fourth = dial(NEWCOMER)
    fourth.start()
    assert fourth.send("5", "5") == "END " + ar(LIMITED)
    late = dial("+212600000012")  # a session past the way in meets the limit at its CIN
    late.start()
    late.send("5", "5", POTTERY, REGION, PROVINCE, COMMUNE)
    for cin in ("ZX200001", "ZX200002", "ZX200003"):
        assert late.send(cin).startswith("CON " + ar("Enter your year of birth (e.g. 1980):"))
        late.send("0")  # back to the CIN screen
    late.send("ZX200004")
    assert late.screens[-1] == "END " + ar(LIMITED)
    assert open_requests(demo) == []


def test_redis_never_holds_the_cin_in_clear(dial: type[Dialer], demo: Session, redis_prefix: str) -> None:
    phone = dial(NEWCOMER)
    summary = to_confirm(phone)
    assert "**" + CIN[-4:] in "\n".join(all_pages(phone, summary))  # its end shown back to the caller…
    values = _redis_values(redis_prefix)
    assert values and not any(CIN.encode() in value for value in values)  # …but sealed in the session


@pytest.mark.parametrize("committed_app", ["postgresql", "sqlite"], indirect=True)
def test_racing_confirms_store_one_request_per_cin_and_per_phone(committed_app: Flask) -> None:
    dialer = _dialer(committed_app)
    same_cin = [dialer(f"+2126000001{n:02d}") for n in range(8)]
    same_phone = [dialer("+212600000199") for _ in range(3)]
    for phone in same_cin:
        to_confirm(phone, CIN)
    for index, phone in enumerate(same_phone):
        to_confirm(phone, f"ZY{index:06d}")
    replies = _at_once([lambda phone=phone: phone.send("1") for phone in same_cin + same_phone])  # type: ignore[misc]
    assert all(reply.startswith("END ") for reply in replies), replies
    with committed_app.app_context():
        session = db.get_db()
        requests = open_requests(session)
        assert sorted((r.phone, r.cin) for r in requests if r.cin == CIN).__len__() == 1
        assert len([r for r in requests if r.phone == "+212600000199"]) == 1
        messages = session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.template == "rna_request_received")
        )
        assert messages == len(requests) == 2


# Staff decide on /ops.


def _request(dial: type[Dialer]) -> None:
    phone = dial(NEWCOMER)
    to_confirm(phone)
    phone.send("1")


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def test_staff_register_a_request_and_the_phone_then_sees_its_amo_status(
    client: FlaskClient,
    dial: type[Dialer],
    demo: Session,
    staff: object,  # noqa: F811
) -> None:
    _request(dial)
    [request] = open_requests(demo)
    log_in(client)
    page = client.get("/ops/registrations/?region=09").get_data(as_text=True)
    assert f"{request.id:06d}" in page and CIN not in page  # the CIN masked in the list
    token = _csrf(page)
    form = {"first_name": "Brahim", "last_name": "Ait Ali", "rna_number": "RNA-TIZ-77"}
    assert client.post(f"/ops/registrations/{request.id}/register", data=form).status_code == 400  # no CSRF
    response = client.post(f"/ops/registrations/{request.id}/register", data={**form, "csrf_token": token})
    assert response.status_code == 303
    demo.expire_all()
    artisan = demo.scalar(select(Artisan).where(Artisan.cin == CIN))
    assert artisan is not None and (artisan.rna_number, artisan.phone, artisan.trade) == (
        "RNA-TIZ-77",
        NEWCOMER,
        "pottery",
    )
    assert (artisan.first_name, artisan.last_name, artisan.commune_code) == ("Brahim", "Ait Ali", TIZNIT_TOWN)
    link = demo.scalar(select(PhoneLink).where(PhoneLink.artisan_id == artisan.id))
    assert link is not None and link.method == "staff" and link.pick_up_codes_from is None
    assert demo.get(RegistrationRequest, request.id).status == "registered"  # type: ignore[union-attr]
    sms = demo.scalar(select(OutboxMessage).where(OutboxMessage.template == "rna_request_registered"))
    assert sms is not None and "RNA-TIZ-77" in sms.body and sms.recipient == NEWCOMER
    # Decided once: a second decision is refused, nothing changes.
    again = client.post(f"/ops/registrations/{request.id}/reject", data={"reason": "x", "csrf_token": token})
    assert again.status_code == 303
    assert demo.get(RegistrationRequest, request.id).status == "registered"  # type: ignore[union-attr]
    # The phone's next dial of 1: its file, its AMO status.
    phone = dial(NEWCOMER)
    phone.start()
    status = "\n".join(all_pages(phone, phone.send("1")))
    assert Translator("ar")("AMO: not registered") in status and "**Z-77" in status


def test_staff_reject_a_request_with_a_reason_told_by_sms(
    client: FlaskClient,
    dial: type[Dialer],
    demo: Session,
    staff: object,  # noqa: F811
) -> None:
    _request(dial)
    [request] = open_requests(demo)
    token = log_in(client)
    empty = client.post(f"/ops/registrations/{request.id}/reject", data={"reason": " ", "csrf_token": token})
    assert empty.status_code == 303 and open_requests(demo)  # a reason is required
    reason = "Activité non artisanale"
    client.post(f"/ops/registrations/{request.id}/reject", data={"reason": reason, "csrf_token": token})
    demo.expire_all()
    assert demo.get(RegistrationRequest, request.id).reason == reason  # type: ignore[union-attr]
    sms = demo.scalar(select(OutboxMessage).where(OutboxMessage.template == "rna_request_rejected"))
    assert sms is not None and reason in sms.body and sms.segments <= 2
    # The phone may ask again now that nothing is open.
    assert dial(NEWCOMER).start() and open_requests(demo) == []


def test_the_dashboard_counts_requests_and_exports_them(
    client: FlaskClient,
    dial: type[Dialer],
    demo: Session,
    staff: object,  # noqa: F811
) -> None:
    _request(dial)
    log_in(client)
    dashboard = client.get("/ops/").get_data(as_text=True)
    assert "1 / 1" in dashboard
    page = client.get("/ops/registrations/").get_data(as_text=True)
    assert "Souss-Massa" in page
    export = client.get("/ops/registrations/export.csv")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    body = export.get_data(as_text=True)
    assert "Tiznit" in body and NEWCOMER not in body and CIN not in body
    client.post("/ops/logout", data={"csrf_token": _csrf(dashboard)})
    assert client.get("/ops/registrations/export.csv").status_code == 401


def test_the_demo_reset_lets_its_unlinked_phone_ask_again(dial: type[Dialer], demo: Session, clock: object) -> None:
    phone = dial(OMAR_PHONE)
    to_confirm(phone)
    phone.send("1")
    assert len(open_requests(demo)) == 1
    load_demo(demo, clock=clock)  # type: ignore[arg-type]
    demo.commit()
    assert open_requests(demo) == []
    again = dial(OMAR_PHONE)
    again.start()
    assert again.send("5", "5").startswith("CON ")


def test_registering_with_an_rna_number_of_another_file_is_refused(
    client: FlaskClient,
    dial: type[Dialer],
    demo: Session,
    staff: object,  # noqa: F811
) -> None:
    _request(dial)
    [request] = open_requests(demo)
    token = log_in(client)
    form = {"first_name": "B", "last_name": "A", "rna_number": "DEMO-FES-0001", "csrf_token": token}  # Fatima's
    page = client.post(f"/ops/registrations/{request.id}/register", data=form, follow_redirects=True)
    # Why, in the dashboard's language (French here), not in the code's English.
    assert "ce numéro RNA est celui du dossier d&#39;une autre CIN" in page.get_data(as_text=True)
    demo.expire_all()
    assert open_requests(demo) and demo.scalar(select(Artisan).where(Artisan.cin == CIN)) is None
    assert (
        demo.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.template != "rna_request_received")
        )
        == 0
    )


def test_a_request_for_a_cin_in_the_register_links_that_file(
    client: FlaskClient,
    dial: type[Dialer],
    demo: Session,
    staff: object,  # noqa: F811
) -> None:
    phone = dial(NEWCOMER)
    to_confirm(phone, "JB123456")  # Omar's CIN: the request says nothing of it being known
    assert phone.send("1").startswith("END ")
    [request] = open_requests(demo)
    token = log_in(client)
    form = {"first_name": "Omar", "last_name": "X", "rna_number": "DEMO-MRK-0009", "csrf_token": token}
    client.post(f"/ops/registrations/{request.id}/register", data=form)
    demo.expire_all()
    omar = demo.scalar(select(Artisan).where(Artisan.cin == "JB123456"))
    assert omar is not None and omar.phone == NEWCOMER and omar.first_name == "Omar"
    assert demo.scalar(select(func.count()).select_from(Artisan).where(Artisan.cin == "JB123456")) == 1
