"""Option 4 (cash points), dialed over AT's protocol with the demo loaded."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.cashpoints import service
from models import OutboxMessage
from tests.helpers import Dialer

FATIMA, AICHA = "+212600000001", "+212600000003"


def has_more(page: str) -> bool:
    return any(line.startswith("98 ") for line in page.split("\n"))


def choose(phone: Dialer, screen: str, name: str) -> str:
    """Type the number of `name`, paging on with `98` until it shows."""
    pattern = re.compile(rf"^(\d+) {re.escape(name)}$", re.MULTILINE)
    while (found := pattern.search(screen[4:])) is None:  # past "CON ": a page may open on an item
        assert has_more(screen), (name, screen)
        screen = phone.send("98")
    return phone.send(found.group(1))


def to_marrakech(phone: Dialer, language: str) -> str:
    region = next(area for area in service.regions() if area.code == "07")
    marrakech = service.province("07.351")
    assert marrakech is not None
    provinces = choose(phone, phone.send("4"), region.name(language))
    return choose(phone, provinces, marrakech.name(language))


def test_a_fellah_cash_point_in_marrakech_and_its_sms(dial: type[Dialer], demo: Session) -> None:
    phone = dial(FATIMA)
    phone.start()
    pages = [to_marrakech(phone, "ar")]
    assert pages[0].startswith("CON ") and "مراكش" in pages[0]
    while has_more(pages[-1]):
        pages.append(phone.send("98"))
    text = "\n".join(pages)
    assert "Fellah Cash Marrakech Guéliz" in text and "Wafacash Marrakech Médina" in text
    assert "Wafacash Fès Batha" not in text
    for _ in pages[1:]:  # back to the first page, where `1` asks for the SMS
        phone.send("0")
    assert phone.send("1").startswith("END ")
    sms = demo.scalar(select(OutboxMessage).where(OutboxMessage.template == "cash_points"))
    assert sms is not None and sms.recipient == FATIMA and sms.language == "ar"
    assert "مراكش" in sms.body and "Fellah Cash Marrakech" in sms.body
    assert sms.segments <= 2 and sms.state == "pending"


def test_names_in_french_and_numbers_out_of_the_list(dial: type[Dialer], demo: Session) -> None:
    phone = dial(AICHA)
    phone.start()
    phone.send("6", "2")  # French
    regions = phone.send("4")
    assert regions.startswith("CON ") and "1 Tanger-Tétouan-Al Hoceima" in regions
    assert phone.send("13").startswith("CON ")  # twelve regions: shown again with an error
    again = dial(AICHA)
    assert "1 Continuer" not in again.start()  # the first was left on the regions: nothing chosen to keep
    first = to_marrakech(again, "fr")
    assert "Fellah Cash: Fellah Cash Marrakech Daoudiate" in first, first
    chichaoua = service.province("07.161")
    assert chichaoua is not None
    empty = choose(phone, phone.send("7"), chichaoua.name("fr"))
    assert "Chichaoua" in empty and "1 " not in empty
    assert phone.send("1").startswith("CON ")  # nothing to send
    assert (
        demo.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.template == "cash_points")) == 0
    )
