"""Issue 14's check, over real HTTP: a fake Africa's Talking Voice client (tests/voice_calls.py)
calls from +212600000002, picks Darija, hears the main menu (every Play URL fetched: 200,
audio/wav), pays three months at Wafacash on the keypad and reads the 10-digit reference
back from the transcript, which it gets as the simulator does (GET /simulator/voice/clips,
development only); the same call in French; `flask voice coverage` lists Tachelhit as
missing recordings, and the call does not offer it."""

from __future__ import annotations

import dataclasses
import io
import json
import urllib.parse
import urllib.request
import wave
from collections.abc import Iterator, Mapping

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.config import Settings
from gateway.voice.audio import PromptAudio, key_in
from gateway.voice.speech import Clip
from gateway.wiring import AUDIO_EXTENSION
from models import Artisan, PaymentReference
from tests.voice_calls import YOUSSEF, Call, heard_reference


class Transcripts(Mapping[str, Clip]):
    """The clip of each Play URL, as the simulator's voice mode reads it."""

    def __init__(self, server: str) -> None:
        self.server = server

    def __getitem__(self, url: str) -> Clip:
        query = urllib.parse.urlencode({"key": key_in(url)})
        with urllib.request.urlopen(f"{self.server}/simulator/voice/clips?{query}", timeout=10) as response:
            found = json.load(response)["clips"]
        if not found:
            raise KeyError(url)
        (clip,) = found.values()
        return Clip(clip["language"], clip["text"])

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


@pytest.fixture
def voice_server(app: Flask, server: str, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> str:
    """The server with its Play URLs under its own address (PUBLIC_BASE_URL), as on `make run`."""
    audio = PromptAudio(dataclasses.replace(settings, public_base_url=server))
    monkeypatch.setitem(app.extensions, AUDIO_EXTENSION, audio)
    return server


def fetched(call: Call) -> int:
    """Fetch every Play URL of the last reply as AT does: each is a WAV with sound in it."""
    for url in call.reply.plays:
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200 and response.headers["Content-Type"] == "audio/wav", url
            with wave.open(io.BytesIO(response.read())) as sound:
                assert sound.getnframes() > 0, url
    return len(call.reply.plays)


def pay_three_months_at_wafacash(call: Call, language_key: str) -> str:
    """The call from the language offer to the reference; what the last reply said."""
    call.start()
    assert fetched(call) > 0
    call.press(language_key)
    assert fetched(call) > 0
    main_menu = call.said()
    for keys in ("2", "2", "3#", "1", "1"):  # pay, choose the months, three, Wafacash, confirm
        assert call.reply.digits is not None, call.said()
        call.press(keys)
        fetched(call)
    assert call.reply.digits is None, "the reference is the call's last prompt"
    return main_menu


@pytest.mark.parametrize(("language", "key"), [("ary", "1"), ("fr", "2")])
def test_a_caller_pays_three_months_at_wafacash_and_reads_the_reference(
    voice_server: str, demo: Session, language: str, key: str
) -> None:
    call = Call(voice_server, Transcripts(voice_server), phone=YOUSSEF)
    main_menu = pay_three_months_at_wafacash(call, key)
    assert main_menu and all(clip.language == language for clip in call.heard())
    reference = heard_reference(call.said(), language)
    assert reference is not None and len(reference) == 10, call.said()
    youssef = demo.scalars(select(Artisan).where(Artisan.first_name == "Youssef")).one()
    issued = demo.scalars(select(PaymentReference).where(PaymentReference.artisan_id == youssef.id)).one()
    assert (issued.reference, issued.month_count, issued.network) == (reference, 3, "wafacash")
    call.hang_up()


def test_tachelhit_is_missing_recordings_and_not_offered(voice_server: str, app: Flask, demo: Session) -> None:
    result = app.test_cli_runner().invoke(args=["voice", "coverage"])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split() for line in result.output.splitlines()[1:]}
    _, prompts, recorded, synthesised, _cached, missing, offered = rows["shi"]
    assert int(missing) == int(prompts) > 0 and (recorded, synthesised, offered) == ("0", "0", "no")

    call = Call(voice_server, Transcripts(voice_server), phone=YOUSSEF)
    call.start()
    assert [clip.language for clip in call.heard()] == ["ary"] * 4 + ["fr"] * 4
    assert "ⵜⴰⵛⵍⵃⵉⵜ" not in call.said()
