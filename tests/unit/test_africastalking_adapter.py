"""Africa's Talking wire protocol: hop and end-of-session forms, new inputs, replies."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

import pytest

from gateway.ussd.adapters.africastalking import adapter
from gateway.ussd.interfaces import InvalidRequest, TextMark
from menus.engine import Reply


def hop_form(**changes: str) -> dict[str, str]:
    form = {
        "sessionId": "ATUid_0123456789abcdef",
        "serviceCode": "*4242#",
        "phoneNumber": "+212600000001",
        "networkCode": "60401",
        "text": "1*2",
    }
    form.update(changes)
    return form


def end_form(**changes: str) -> dict[str, str]:
    form = {
        "sessionId": "ATUid_0123456789abcdef",
        "serviceCode": "*4242#",
        "phoneNumber": "+212600000001",
        "networkCode": "60401",
        "status": "Success",
        "durationInMillis": "18250",
        "hopsCount": "4",
        "input": "1*2",
        "lastAppResponse": "END Merci",
        "errorMessage": "",
        "cost": "MAD 0.10",
        "date": "2026-11-24 10:00:05",
    }
    form.update(changes)
    return form


@pytest.mark.parametrize(
    ("previous", "text", "expected"),
    [
        (None, "", []),
        (None, "1*2", ["1", "2"]),  # dial string *4242*1*2#: both parts arrive at once
        ("", "1", ["1"]),
        ("", "1*2", ["1*2"]),  # the user typed `*` in one answer
        ("1", "1*2", ["2"]),
        ("1", "1*JB*12", ["JB*12"]),
        ("1*2", "1*2*AB123456", ["AB123456"]),
        ("1*2", "7*3", ["3"]),  # history rewritten: only the last part is new
        ("1*2*3", "9", ["9"]),
    ],
)
def test_new_inputs(previous: str | None, text: str, expected: list[str]) -> None:
    key = b"test-key"
    mark = TextMark.of(previous, key) if previous is not None else None
    assert adapter.new_inputs(mark, text, key) == expected


def test_text_mark_keeps_no_input_and_needs_the_key() -> None:
    mark = TextMark.of("1*AB123456*1234", b"k1")
    assert "AB123456" not in repr(mark) and "1234" not in mark.digest
    assert mark.same("1*AB123456*1234", b"k1")
    assert not mark.same("1*AB123456*1234", b"k2")
    assert not mark.same("1*AB123456*1235", b"k1")


def test_text_marks_saved_whole_still_match() -> None:
    mark = TextMark.of("1*2", b"k1")
    whole = TextMark(3, hmac.new(b"k1", b"1*2", hashlib.sha256).hexdigest())  # as saved before the cut
    assert len(mark.digest) == 32 and whole.digest.startswith(mark.digest)
    assert whole.same("1*2", b"k1") and not whole.same("1*3", b"k1")
    assert not TextMark(3, "").same("1*2", b"k1")


def test_parse_hop_reads_a_valid_form() -> None:
    hop = adapter.parse_hop(hop_form())

    assert hop.session_id == "ATUid_0123456789abcdef"
    assert hop.phone == "+212600000001"
    assert hop.service_code == "*4242#"
    assert hop.network_code == "60401"
    assert hop.text == "1*2"


def test_parse_hop_gives_e164_when_the_plus_is_missing() -> None:
    assert adapter.parse_hop(hop_form(phoneNumber="212600000001")).phone == "+212600000001"


def test_parse_hop_accepts_a_missing_network_code() -> None:
    form = hop_form()
    del form["networkCode"]

    assert adapter.parse_hop(form).network_code == ""


def test_parse_hop_accepts_the_empty_text_of_a_first_hop() -> None:
    assert adapter.parse_hop(hop_form(text="")).text == ""


@pytest.mark.parametrize("field", ["sessionId", "serviceCode", "phoneNumber", "text"])
def test_parse_hop_refuses_a_missing_field(field: str) -> None:
    form = hop_form()
    del form[field]

    with pytest.raises(InvalidRequest, match=field):
        adapter.parse_hop(form)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("phoneNumber", "not-a-number"),
        ("phoneNumber", "+212"),
        ("phoneNumber", "+21260000000"),  # one digit short
        ("phoneNumber", ""),
        ("sessionId", "ATUid 0123"),
        ("sessionId", ""),
        ("serviceCode", "*4242A#"),
        ("serviceCode", "*42 42#"),
        ("text", "1" * 1001),
        ("text", "1*\x002"),
    ],
)
def test_parse_hop_refuses_a_malformed_field(field: str, value: str) -> None:
    with pytest.raises(InvalidRequest, match=field):
        adapter.parse_hop(hop_form(**{field: value}))


def test_parse_hop_accepts_text_of_exactly_1000_characters() -> None:
    assert adapter.parse_hop(hop_form(text="1" * 1000)).text == "1" * 1000


def test_parse_session_end_reads_a_valid_form() -> None:
    end = adapter.parse_session_end(end_form())

    assert end.session_id == "ATUid_0123456789abcdef"
    assert end.phone == "+212600000001"
    assert end.status == "Success"
    assert end.duration_ms == 18250
    assert end.hops_count == 4
    assert end.cost == "MAD 0.10"
    assert end.error_message is None


def test_parse_session_end_reads_the_date_as_utc() -> None:
    reported_at = adapter.parse_session_end(end_form()).reported_at

    assert reported_at == dt.datetime(2026, 11, 24, 10, 0, 5, tzinfo=dt.UTC)
    assert reported_at is not None
    assert reported_at.utcoffset() == dt.timedelta(0)


def test_parse_session_end_leaves_missing_numbers_and_date_empty() -> None:
    form = end_form()
    for name in ("durationInMillis", "hopsCount", "date"):
        del form[name]

    end = adapter.parse_session_end(form)

    assert (end.duration_ms, end.hops_count, end.reported_at) == (None, None, None)


@pytest.mark.parametrize("field", ["durationInMillis", "hopsCount"])
@pytest.mark.parametrize("value", ["12a", "-5", "1.5", "1e3", "²", "1" * 13])
def test_parse_session_end_refuses_a_bad_whole_number(field: str, value: str) -> None:
    with pytest.raises(InvalidRequest, match=field):
        adapter.parse_session_end(end_form(**{field: value}))


def test_parse_session_end_refuses_a_bad_date() -> None:
    with pytest.raises(InvalidRequest, match="date"):
        adapter.parse_session_end(end_form(date="yesterday"))


@pytest.mark.parametrize("status", [None, ""])
def test_parse_session_end_refuses_a_missing_status(status: str | None) -> None:
    form = end_form()
    if status is None:
        del form["status"]
    else:
        form["status"] = status

    with pytest.raises(InvalidRequest, match="status"):
        adapter.parse_session_end(form)


@pytest.mark.parametrize("field", ["sessionId", "phoneNumber"])
def test_parse_session_end_refuses_a_missing_identity(field: str) -> None:
    form = end_form()
    del form[field]

    with pytest.raises(InvalidRequest, match=field):
        adapter.parse_session_end(form)


def test_screen_budget_is_160_gsm7_or_80_other_characters() -> None:
    assert adapter.budget.limit("Paiement") == 160
    assert adapter.budget.limit("دفع") == 80


def test_render_continues_or_ends_the_session() -> None:
    menu = Reply("1 Mon inscription\n2 Payer", final=False, screen="main")
    assert adapter.render(menu, language="fr", turn=1) == "CON 1 Mon inscription\n2 Payer"
    assert adapter.render(Reply("Merci.", final=True, screen="pay_reference"), language="fr", turn=4) == "END Merci."


def test_a_last_word_ends_the_session_in_the_callers_language_else_in_both() -> None:
    assert adapter.message("Invalid request. Please dial again.", "fr") == "END Requête invalide. Rappelez le service."
    assert adapter.message("Invalid request. Please dial again.", None).startswith("END ")
    assert adapter.message("Invalid request. Please dial again.", None).count("\n") == 1
