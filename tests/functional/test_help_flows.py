"""Option 5 (help and services) dialed over AT's protocol, and staff closing requests."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.help.service import CHAMBER_CONTACTS
from menus.help import DONE
from menus.i18n import LRM, Translator
from models import HelpRequest, OutboxMessage
from tests.helpers import Dialer

FATIMA, AICHA, UNKNOWN = "+212600000001", "+212600000003", "+212600000009"


def ask(dial: type[Dialer], phone_number: str, choice: str) -> Dialer:
    phone = dial(phone_number)
    phone.start()
    phone.send("5", choice)
    return phone


@pytest.mark.parametrize(
    ("phone_number", "language"),
    [(FATIMA, "ar"), (AICHA, "fr")],
)
@pytest.mark.parametrize(
    ("choice", "kind", "template"),
    [
        ("1", "advisor_callback", "help_advisor"),
        ("2", "export_support", "help_export"),
        ("3", "chamber_contact", "help_chamber"),
    ],
)
def test_a_request_is_stored_and_confirmed_by_sms(
    dial: type[Dialer], demo: Session, phone_number: str, language: str, choice: str, kind: str, template: str
) -> None:
    phone = ask(dial, phone_number, choice)
    assert phone.screens[-1].startswith("END "), phone.screens
    assert Translator(language)(DONE[kind]) in phone.screens[-1]
    request = demo.scalar(select(HelpRequest))
    assert request is not None and request.kind == kind and request.status == "open"
    sms = demo.scalar(select(OutboxMessage).where(OutboxMessage.recipient == phone_number))
    assert sms is not None and sms.template == template and sms.language == language and sms.segments <= 2


def test_the_chamber_sms_carries_the_province_contact(dial: type[Dialer], demo: Session) -> None:
    ask(dial, FATIMA, "3")  # Fès: region 03
    sms = demo.scalar(select(OutboxMessage).where(OutboxMessage.template == "help_chamber"))
    assert sms is not None and CHAMBER_CONTACTS["03"] in sms.body.replace(LRM, "")


def test_a_second_request_of_a_kind_shows_the_open_one(dial: type[Dialer], demo: Session) -> None:
    ask(dial, AICHA, "1")
    again = ask(dial, AICHA, "1")
    expected = Translator("fr")("You already have an open request of this kind, since {when}.", when="24/11/2026")
    assert again.screens[-1] == "END " + expected
    assert demo.scalar(select(func.count()).select_from(HelpRequest)) == 1
    assert demo.scalar(select(func.count()).select_from(OutboxMessage)) == 1
    ask(dial, AICHA, "2")  # another kind is another request
    assert demo.scalar(select(func.count()).select_from(HelpRequest)) == 2


def test_an_unknown_phone_identifies_first(dial: type[Dialer], demo: Session) -> None:
    phone = dial(UNKNOWN)
    phone.start()
    # Option 5 opens for a phone not linked (its `5` asks for registration in the RNA);
    # a help request needs the file: the CIN first, then back to the menu to choose.
    phone.send("5", "2", "JB123456", "1980", "2")
    assert phone.screens[-1].startswith("END ")
    request = demo.scalar(select(HelpRequest))
    assert request is not None and request.kind == "export_support"


def test_closed_by_staff_then_asked_again(app: Flask, dial: type[Dialer], demo: Session) -> None:
    ask(dial, FATIMA, "1")
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["requests", "list", "--open", "--kind", "advisor_callback"])
    assert listed.exit_code == 0, listed.output
    assert "advisor_callback" in listed.output and "+2126******01" in listed.output and FATIMA not in listed.output
    request = demo.scalar(select(HelpRequest))
    assert request is not None
    closed = runner.invoke(args=["requests", "close", str(request.id), "--by", "Samira"])
    assert closed.exit_code == 0, closed.output
    assert request.status == "closed" and request.closed_by == "Samira" and request.closed_at is not None
    assert runner.invoke(args=["requests", "close", str(request.id), "--by", "Samira"]).exit_code != 0
    assert "no help requests" in runner.invoke(args=["requests", "list", "--open"]).output
    again = ask(dial, FATIMA, "1")
    assert Translator("ar")(DONE["advisor_callback"]) in again.screens[-1]
    assert demo.scalar(select(func.count()).select_from(HelpRequest)) == 2
    assert (
        demo.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.template == "help_advisor"))
        == 2
    )
