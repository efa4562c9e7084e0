"""The voice line over real HTTP, called as Africa's Talking Voice does (the fake AT
client of tests/voice_calls.py). What the caller hears is read from the clips the replies
play (every Play URL is made by PromptAudio.url from one clip: the test keeps them)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from flask import Flask
from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.voice.audio import PromptAudio
from gateway.voice.speech import Clip
from models import Artisan, CallOutbox, PaymentReference, UssdSessionOutcome
from tests.conftest import CALLBACK_KEY
from tests.helpers import redis_sent
from tests.voice_calls import OUR_NUMBER, YOUSSEF, Call, heard_reference
from tests.voice_xml import check


@pytest.fixture
def clips(monkeypatch: pytest.MonkeyPatch) -> dict[str, Clip]:
    """Every clip a reply plays, by the audio URL it was given."""
    heard: dict[str, Clip] = {}
    original = PromptAudio.url

    def url(self: PromptAudio, clip: Clip) -> str:
        address = original(self, clip)
        heard[address] = clip
        return address

    monkeypatch.setattr(PromptAudio, "url", url)
    return heard


def outcome(db: Session, session_id: str) -> UssdSessionOutcome:
    row = db.scalars(select(UssdSessionOutcome).where(UssdSessionOutcome.session_id == session_id)).one()
    db.refresh(row)
    return row


def hops(screen: str, kind: str) -> float:
    return (
        REGISTRY.get_sample_value("hirfa_ussd_hops_total", {"aggregator": "voice", "screen": screen, "kind": kind})
        or 0.0
    )


def test_the_call_offers_each_language_in_itself_then_the_menus(server: str, clips: dict[str, Clip]) -> None:
    call = Call(server, clips)
    offer = call.start()
    assert call.status == 200
    # Each language announced in itself, with its key (menus/locale/languages.toml's order).
    assert [(clip.language, clip.text) for clip in call.heard()] == [
        ("ary", "إلا بغيتي"),
        ("ary", "الدارجة"),
        ("ary", "ورك على"),
        ("ary", "واحد"),
        ("fr", "Pour continuer en"),
        ("fr", "Français"),
        ("fr", "tapez"),
        ("fr", "deux"),
    ]
    assert offer.digits is not None and offer.digits["numDigits"] == "1" and offer.digits["finishOnKey"] == "#"
    assert "turn=0" in offer.digits["callbackUrl"] and offer.redirect is not None and "silence=1" in offer.redirect
    menu = call.press("2")
    assert "Mon inscription\ntapez\nun" in call.said() and all(clip.language == "fr" for clip in call.heard())
    assert menu.digits is not None and menu.digits["numDigits"] == "1" and "turn=1" in menu.digits["callbackUrl"]


def test_a_caller_pays_to_a_reference_in_french(server: str, clips: dict[str, Clip], demo: Session) -> None:
    before = hops("pay_reference", "end")
    call = Call(server, clips)
    call.pick_french()
    for key in ("2", "1", "1"):  # pay, all due, Wafacash
        call.press(key)
        assert call.reply.digits is not None and call.reply.digits["numDigits"] == "1"
    done = call.press("1")  # confirm
    assert done.digits is None and done.redirect is None, "the last screen ends the call"
    said = call.said()
    spoken = heard_reference(said, "fr")
    assert spoken is not None, said
    youssef = demo.scalars(select(Artisan).where(Artisan.first_name == "Youssef")).one()
    references = demo.scalars(select(PaymentReference).where(PaymentReference.artisan_id == youssef.id)).all()
    assert [reference.reference for reference in references] == [spoken]
    assert hops("pay_reference", "end") == before + 1

    call.hang_up(seconds=95)
    row = outcome(demo, call.session_id)
    assert (row.aggregator, row.status, row.duration_ms, row.cost) == ("voice", "Success", 95_000, "MAD 1.75")
    assert (row.last_screen, row.language, row.hops_answered) == ("pay_reference", "fr", 5)
    assert row.ended_at is not None and row.service_code == OUR_NUMBER


def test_a_repeated_callback_changes_nothing(server: str, clips: dict[str, Clip], demo: Session) -> None:
    call = Call(server, clips)
    call.pick_french()
    assert call.again() == call.body  # the language chosen, posted twice: the same menu
    for key in ("2", "1", "1", "1"):
        call.press(key)
    last = call.body
    replays = hops("pay_reference", "replay")
    assert call.again() == last
    assert call.again() == last
    assert hops("pay_reference", "replay") == replays + 2
    youssef = demo.scalars(select(Artisan).where(Artisan.first_name == "Youssef")).one()
    assert len(demo.scalars(select(PaymentReference).where(PaymentReference.artisan_id == youssef.id)).all()) == 1


def test_the_same_key_twice_is_two_answers(server: str, clips: dict[str, Clip]) -> None:
    """`1` then `1` on two prompts: two turns, two answers (not a replay)."""
    call = Call(server, clips)
    call.pick_french()
    call.press("2")
    call.press("1")  # all due: the networks
    networks = call.said()
    call.press("1")  # Wafacash: the confirmation
    assert call.said() != networks and call.reply.digits is not None


def test_a_call_cut_off_mid_flow_is_offered_again(server: str, clips: dict[str, Clip], demo: Session) -> None:
    call = Call(server, clips)
    call.pick_french()
    call.press("2")
    call.press("1")  # all due, then the network screen: a choice made inside a task
    networks = call.said()
    call.hang_up()
    assert outcome(demo, call.session_id).status == "Incomplete"

    again = Call(server, clips)
    again.pick_french()
    assert "Votre dernière session a été coupée." in again.said()
    again.press("1")  # continue where you stopped
    assert again.said() == networks


def test_a_wrong_key_says_so_and_asks_again(server: str, clips: dict[str, Clip]) -> None:
    call = Call(server, clips)
    call.start()
    offer = call.said()
    call.press("7")  # no language has key 7: the offer again
    assert call.said() == offer
    menu = call.pick_french()
    call.press("9")
    assert call.said().startswith("Choix invalide.") and menu in call.said()


def test_star_says_the_prompt_again_and_runs_nothing(server: str, clips: dict[str, Clip]) -> None:
    call = Call(server, clips)
    call.pick_french()
    menu = call.body
    call.press("*")
    assert call.body == menu
    call.press("2")
    assert "Choisir les mois\ntapez\ndeux" in call.said()


def test_silence_says_the_prompt_once_more_then_ends_politely(
    server: str, clips: dict[str, Clip], demo: Session
) -> None:
    call = Call(server, clips)
    menu = call.pick_french()
    call.silence()
    assert call.said() == menu and call.reply.redirect is not None and "silence=2" in call.reply.redirect
    bye = call.silence()
    assert bye.digits is None and bye.redirect is None
    assert call.said() == "Nous n'avons pas entendu votre réponse. Au revoir."
    call.hang_up()
    assert outcome(demo, call.session_id).status == "Incomplete"


def test_silence_at_the_language_offer(server: str, clips: dict[str, Clip]) -> None:
    call = Call(server, clips)
    call.start()
    offer = call.said()
    call.silence()
    assert call.said() == offer
    call.silence()
    assert call.reply.digits is None
    assert [clip.language for clip in call.heard()] == ["ary", "fr"]


def test_a_bad_key_is_rejected_as_xml(server: str, clips: dict[str, Clip]) -> None:
    call = Call(server, clips, key="not-the-key")
    reply = call.start()
    assert call.status == 403 and reply.rejected


def test_an_internal_failure_is_spoken_not_a_5xx(
    server: str, clips: dict[str, Clip], monkeypatch: pytest.MonkeyPatch
) -> None:
    call = Call(server, clips)
    call.pick_french()

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr("menus.engine.Engine.step", broken)
    call.press("2")
    assert call.status == 200 and call.reply.digits is None
    assert call.said() == "Service indisponible, réessayez plus tard."


def test_when_the_prompts_fail_at_s_own_voice_says_unavailable(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: PromptAudio, clip: Clip) -> str:
        raise OSError("no audio")

    monkeypatch.setattr(PromptAudio, "url", broken)
    call = Call(server, {})
    reply = call.start()
    assert call.status == 200 and reply.plays == [] and "Service indisponible, réessayez plus tard." in reply.says


def test_a_malformed_callback_is_refused_as_xml(server: str, clips: dict[str, Clip]) -> None:
    call = Call(server, clips, phone="not a phone")
    call.start()
    assert call.status == 400 and call.reply.digits is None and len(call.heard()) == 2


def test_a_foreign_number_hears_why(server: str, clips: dict[str, Clip]) -> None:
    call = Call(server, clips, phone="+33612345678")
    call.start()
    assert call.status == 200 and call.reply.digits is None
    assert [clip.language for clip in call.heard()] == ["ary", "fr"]
    assert call.heard()[1].text == "Ce service est réservé aux numéros marocains."


def test_a_reminder_call_answered_says_the_dues_and_its_end_is_recorded(
    server: str, clips: dict[str, Clip], demo: Session
) -> None:
    """A call of ours (gateway/voice/calls.py) answered: AT's first callback (Outbound) gets
    the reminder in the artisan's voice language, spoken in words; its isActive=0 records
    the outcome on the call's row."""
    youssef = demo.scalars(select(Artisan).where(Artisan.phone == YOUSSEF)).one()
    row = CallOutbox(
        artisan_id=youssef.id,
        phone=YOUSSEF,
        kind="dues_reminder",
        language="fr",
        subject="reminder:2026-11",
        month="2026-11",
        status="calling",
        attempts=1,
        session_id="ATVId_out_" + uuid.uuid4().hex,
    )
    demo.add(row)
    demo.commit()  # a savepoint released (tests/conftest.py): the server's requests see it
    row_id, call = row.id, Call(server, clips)
    call.session_id = row.session_id or ""
    answered = call._post(call.url, direction="Outbound", callerNumber=OUR_NUMBER, destinationNumber=YOUSSEF)
    assert call.status == 200 and answered.digits is None, "a message, then AT hangs up"
    said = call.said()
    assert "quatre cent cinq dirhams" in said and all(clip.language == "fr" for clip in call.heard()), said
    call._post(
        call.url,
        direction="Outbound",
        callerNumber=OUR_NUMBER,
        destinationNumber=YOUSSEF,
        isActive="0",
        status="Success",
        durationInSeconds="31",
    )
    demo.expire_all()
    ended = demo.get(CallOutbox, row_id)
    assert ended is not None and (ended.status, ended.duration_seconds) == ("answered", 31)


def test_with_no_language_recorded_and_synthesis_not_offered_the_call_hears_unavailable(
    make_app: Callable[..., Flask],
) -> None:
    """Production's default: a language is offered once its prompts are all recorded. With
    none yet, AT's own voice says the service is unavailable (HTTP 200, nothing of ours played)."""
    client = make_app(voice_offer_synthesised=False).test_client()
    before = hops("no_language", "end")
    form = {"isActive": "1", "sessionId": "ATVId_none", "direction": "Inbound"}
    form |= {"callerNumber": YOUSSEF, "destinationNumber": OUR_NUMBER}
    response = client.post(f"/voice/africastalking?key={CALLBACK_KEY}", data=form)
    parsed = check(response.get_data(as_text=True))
    assert response.status_code == 200 and parsed.plays == [] and parsed.digits is None
    assert "<Say>" in response.get_data(as_text=True)
    assert hops("no_language", "end") == before + 1  # told apart from a failure (a warning, not an error)


def test_a_voice_menu_step_is_two_redis_round_trips(
    server: str, clips: dict[str, Clip], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a USSD hop: one read, one write; the prompts played are counted in the write's
    round trip (gateway/riders.py), not a third."""
    call = Call(server, clips)
    call.pick_french()
    with redis_sent(monkeypatch) as (commands, trips):
        call.press("4")  # cash points: a menu step
    assert len(trips) - commands.count("ping") == 2, commands
    assert "hincrby" in commands  # the prompts were counted, with the write
