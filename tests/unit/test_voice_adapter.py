"""The voice adapter's reading of AT Voice callbacks and its XML, without a server."""

from __future__ import annotations

import pytest

from gateway.config import Settings
from gateway.ussd.interfaces import InvalidRequest, TextMark
from gateway.voice import xml
from gateway.voice.adapter import VoiceAdapter
from gateway.voice.audio import PromptAudio
from menus.engine import Choice, Reply
from tests.voice_xml import check

FORM = {
    "sessionId": "ATVId_1",
    "direction": "Inbound",
    "callerNumber": "+212600000002",
    "destinationNumber": "+212522000000",
}


@pytest.fixture
def adapter() -> VoiceAdapter:
    settings = Settings(env="development")
    return VoiceAdapter(
        audio=PromptAudio(settings), url="https://hirfa.example/voice/africastalking", key="k&y",
        languages=("ary", "fr"), answer_seconds=10,
    )  # fmt: skip


def test_a_callback_is_its_turn_and_keys_and_the_finishing_hash_is_dropped(adapter: VoiceAdapter) -> None:
    assert adapter.parse_hop(FORM).text == ""
    hop = adapter.parse_hop({**FORM, "turn": "3", "dtmfDigits": "1980#"})
    assert (hop.text, hop.phone, hop.service_code) == ("3*1980", "+212600000002", "+212522000000")
    assert adapter.parse_hop({**FORM, "turn": "3", "dtmfDigits": "١٩٨٠"}).text == "3*1980"


def test_an_outbound_call_is_the_called_phone(adapter: VoiceAdapter) -> None:
    hop = adapter.parse_hop(
        {**FORM, "direction": "Outbound", "callerNumber": "+212522000000", "destinationNumber": "+212600000001"}
    )
    assert hop.phone == "+212600000001"


@pytest.mark.parametrize(
    "change", [{"sessionId": ""}, {"callerNumber": "abc"}, {"dtmfDigits": "1<2"}, {"turn": "x"}, {"turn": "1234567"}]
)
def test_malformed_callbacks_are_refused(adapter: VoiceAdapter, change: dict[str, str]) -> None:
    with pytest.raises(InvalidRequest):
        adapter.parse_hop({**FORM, **change})


def test_star_and_silence_are_no_input(adapter: VoiceAdapter) -> None:
    previous = TextMark.of("1*2", b"k")
    assert adapter.new_inputs(previous, "2**", b"k") == []
    assert adapter.new_inputs(previous, "2*", b"k") == []
    assert adapter.new_inputs(previous, "2*0", b"k") == ["0"]


def test_the_end_of_a_call(adapter: VoiceAdapter) -> None:
    event = adapter.parse_session_end(
        {**FORM, "isActive": "0", "durationInSeconds": "61", "currencyCode": "MAD", "amount": "2.5"}
    )
    assert (event.duration_ms, event.cost, event.session_id) == (61_000, "MAD 2.5", "ATVId_1")
    with pytest.raises(InvalidRequest):
        adapter.parse_session_end({**FORM, "durationInSeconds": "-1"})


def test_replies_escape_their_urls_and_ask_one_key_on_menus(adapter: VoiceAdapter) -> None:
    menu = check(
        adapter.render(
            Reply("", final=False, screen="main", actions=(Choice("1", "Mon inscription"), Choice("2", "Payer"))),
            language="fr",
            turn=4,
        )
    )
    assert menu.digits is not None and menu.digits["numDigits"] == "1"
    assert menu.digits["callbackUrl"] == "https://hirfa.example/voice/africastalking?key=k%26y&turn=4"
    assert menu.redirect == "https://hirfa.example/voice/africastalking?key=k%26y&turn=4&silence=1"
    regions = check(
        adapter.render(
            Reply("", final=False, screen="cashpoints", actions=(Choice("1", "Tanger"), Choice("12", "Dakhla"))),
            language="fr",
            turn=2,
        )
    )
    assert regions.digits is not None and "numDigits" not in regions.digits
    year = check(
        adapter.render(
            Reply("", final=False, screen="identify_year", lines=("Année de naissance :",), typed=True),
            language="fr",
            turn=2,
        )
    )
    assert year.digits is not None and "numDigits" not in year.digits
    last = check(
        adapter.render(Reply("", final=True, screen="pay_reference", lines=("Merci.",)), language="fr", turn=5)
    )
    assert last.digits is None and last.redirect is None and len(last.plays) == 1
    again = check(
        adapter.after_silence(
            adapter.render(Reply("", final=False, screen="main", actions=(Choice("1", "Oui"),)), language="fr", turn=4),
            4,
        )
    )
    assert again.redirect is not None and again.redirect.endswith("turn=4&silence=2")


def test_say_escapes_text() -> None:
    assert (
        xml.response(xml.say("a < b & c"))
        == '<?xml version="1.0" encoding="UTF-8"?><Response><Say>a &lt; b &amp; c</Say></Response>'
    )
