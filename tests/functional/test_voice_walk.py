"""Walks through the demo on the voice line (the real ports, PostgreSQL, Redis): what
speak() says for fixed texts is all in fixed_prompts(), and the reference is said in groups."""

from __future__ import annotations

import dataclasses
import re
import time

from flask import Flask
from sqlalchemy.orm import Session

from gateway.memo import SessionMemo
from gateway.ussd.adapters.africastalking import adapter as at_adapter
from gateway.ussd.interfaces import Hop
from gateway.voice.speech import Clip, fixed_texts, speak
from gateway.wiring import menu_context
from menus.menu import MENU

WALKS = {
    "+212600000002": [["6", "2", "2", "1", "1", "1"], ["6", "2", "1"]],  # French, then pay all due at Wafacash
    "+212600000001": [["6", "2", "3", "1"], ["6", "2", "4", "1", "1"], ["6", "2", "5"], ["6", "2", "5", "4", "1"]],
    "+212600000009": [["6", "2", "1", "JB123456", "1981"]],
}


def walk(app: Flask, phone: str, answers: list[str]) -> list[tuple[str, list[Clip]]]:
    said = []
    with app.test_request_context():
        hop = Hop(session_id="voice-walk", phone=phone, service_code="*4242#", network_code="60401", text="")
        ctx = dataclasses.replace(menu_context(hop, at_adapter, SessionMemo()), channel="voice")
        reply, state = MENU.start(ctx)
        said.append((reply.screen, speak(reply, state["lang"])))
        for answer in answers:
            reply, state = MENU.step(ctx, state, answer)
            said.append((reply.screen, speak(reply, state["lang"])))
    return said


def test_walks_through_the_demo_say_only_listed_fixed_prompts(app: Flask, demo: Session) -> None:
    steps = 0
    started = time.perf_counter()
    for phone, walks in WALKS.items():
        for answers in walks:
            for screen, clips in walk(app, phone, answers):
                steps += 1
                for clip in clips:
                    assert clip.dynamic or clip.text in fixed_texts(clip.language), f"{screen}: {clip!r}"
    assert steps == sum(len(answers) + 1 for walks in WALKS.values() for answers in walks)
    print(f"{steps} voice steps in {1000 * (time.perf_counter() - started) / steps:.1f} ms each (engine + speak)")


def test_the_payment_reference_is_said_in_groups(app: Flask, demo: Session) -> None:
    said = walk(app, "+212600000002", ["6", "2", "2", "1", "1", "1"])
    screen, clips = said[-1]
    assert screen == "pay_reference"
    texts = [clip.text for clip in clips]
    spoken = texts[texts.index("Référence") + 1]
    digit = "(?:zéro|un|deux|trois|quatre|cinq|six|sept|huit|neuf)"
    assert re.fullmatch(rf"{digit}( {digit}){{2}}, {digit}( {digit}){{2}}, {digit}( {digit}){{3}}", spoken), spoken
    assert any(clip.dynamic and "dirhams" in clip.text for clip in clips)
