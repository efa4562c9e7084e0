"""The menus rendered for the ear (gateway/voice/speech.py), and the USSD pages unchanged."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import re

import pytest

from gateway.ussd.adapters.africastalking import adapter as at_adapter
from gateway.voice.speech import Clip, Voice, fixed_texts, speak
from gateway.voice.words import darija, french
from menus.engine import Engine, Reply, Session
from menus.i18n import SpokenTranslator, Value
from menus.menu import SCREENS
from menus.paging import Budget
from tests.unit.test_screen_budgets import AMO_STATUSES, worst_cases

ENGINE = Engine(SCREENS, home="main", agent_home="agent_home")
# sha256 of every page of every screen, worst cases, both languages, with and without an
# error and a notice, as commit 14829dc (before the Reply carried its structure) gave them;
# the language screen left out since calls out gave it a choice (menus/reminders.py).
USSD_PAGES_AT_14829DC = "0c022b73cd68d93ea64f36b61adcffc94aaa016423b2a52c4ea6ad50831c136d"
CHANGED_SINCE = frozenset({"language", "reminders_by"})


def test_ussd_pages_are_byte_identical_to_before_the_voice_work() -> None:
    pages = {}
    for language, screen, amo in itertools.product(("ar", "fr"), sorted(set(SCREENS) - CHANGED_SINCE), AMO_STATUSES):
        for i, (ctx, session) in enumerate(worst_cases(at_adapter.budget, language, screen, amo)):
            heads = ((None, None), ("Choix invalide.", None), ("Choix invalide.", "Langue enregistrée."))
            for j, (error, notice) in enumerate(heads):
                rendered = ENGINE.pages(ctx, session, error=error, notice=notice)
                pages[f"{language}/{screen}/{amo}/{i}/{j}"] = list(rendered)
    digest = hashlib.sha256(json.dumps(pages, ensure_ascii=False, sort_keys=True).encode()).hexdigest()
    assert digest == USSD_PAGES_AT_14829DC, digest


def voice_replies(language: str, written: str = "fr") -> list[tuple[str, Reply]]:
    """Every screen, worst-case data, rendered whole for the voice line in `language`."""
    replies = []
    for screen in SCREENS:
        for amo in ("waiting", "suspended"):
            for ctx, session in list(worst_cases(at_adapter.budget, written, screen, amo))[:4]:
                voice = dataclasses.replace(ctx, channel="voice", _translators={})
                session.data["lang"] = language
                replies.append((screen, ENGINE._render(voice, session, error=None)))
    return replies


def test_every_screen_for_voice_in_french_has_no_raw_codes_and_no_fixed_clip_unlisted() -> None:
    fixed = {language: fixed_texts(language) for language in ("fr", "ary", "shi", "tzm", "rif")}
    for screen, reply in voice_replies("fr"):
        clips = speak(reply, "fr")
        assert clips, screen
        for clip in clips:
            assert not re.search(r"(?<!\d)98(?!\d)", clip.text), f"{screen}: {clip.text!r}"  # the USSD "more"
            for raw in ("MAD", "/", "\ue000", "\ue002", "{"):
                assert raw not in clip.text, f"{screen}: {clip.text!r}"
            if not clip.dynamic:
                assert clip.text in fixed[clip.language], f"{screen}: {clip!r} not in fixed_prompts"


def test_a_screen_is_said_whole_never_paged() -> None:
    """The provinces' list (102 in the worst case) pages on USSD; the voice says all of it."""
    replies = dict(voice_replies("fr"))
    provinces = replies["cashpoints_provinces"]
    assert len(provinces.actions) == 97 and provinces.text.count("\n98 ") == 1  # USSD: paged
    said = [clip.text for clip in speak(provinces, "fr")]
    assert said.count("tapez") == 97 and "quatre-vingt-dix-sept" in said


def test_an_option_list_speaks_each_choice_with_its_key() -> None:
    reply = dict(voice_replies("fr"))["main"]
    said = [clip.text for clip in speak(reply, "fr")]
    assert said[:1] == ["Hirfa - AMO des artisans"]
    assert said[1:9] == ["Pour", "Mon inscription", "tapez", "un", "Pour", "Payer l'AMO", "tapez", "deux"]
    assert said[-4:] == ["Pour", "Langue", "tapez", "six"]
    assert [choice.key for choice in reply.actions] == ["1", "2", "3", "4", "5", "6"]


def test_an_amount_is_spoken_in_words() -> None:
    t = SpokenTranslator("fr")
    reply = Reply(text="", final=True, screen="x", lines=(t("Total: {amount}", amount=t.money(13500)),))
    assert speak(reply, "fr") == [Clip("fr", "Total"), Clip("fr", "cent trente-cinq dirhams")]
    assert speak(reply, "fr")[1].dynamic
    assert Voice("fr").value(Value("money", "13550"))[0].text == "cent trente-cinq dirhams et cinquante centimes"
    assert Voice("ary").value(Value("money", "13500"))[0].text == "مية و خمسة وتلاتين درهم"


def test_a_reference_is_spoken_in_groups_digit_by_digit() -> None:
    t = SpokenTranslator("fr")
    line = t("Reference: {reference}", reference=t.reference("1234567890"))
    said = [clip.text for clip in speak(Reply(text="", final=True, screen="x", lines=(line,)), "fr")]
    assert said == ["Référence", "un deux trois, quatre cinq six, sept huit neuf zéro"]


def test_months_and_days_as_said() -> None:
    voice = Voice("fr")
    months = "de septembre deux mille vingt-six à novembre deux mille vingt-six"
    assert voice.value(Value("months", "2026-09:3"))[0].text == months
    assert voice.value(Value("day", "2026-03-01:y"))[0].text == "premier mars deux mille vingt-six"
    moment = "trente et un décembre à vingt-trois heures cinquante-neuf"
    assert voice.value(Value("moment", "2026-12-31T23:59"))[0].text == moment


@pytest.mark.parametrize(
    ("number", "words"),
    [(0, "zéro"), (21, "vingt et un"), (71, "soixante et onze"), (80, "quatre-vingts"), (91, "quatre-vingt-onze"),
     (200, "deux cents"), (201, "deux cent un"), (1980, "mille neuf cent quatre-vingts"),
     (80_000, "quatre-vingt mille"), (200_000, "deux cent mille"), (2_000_000, "deux millions")],
)  # fmt: skip
def test_french_numbers(number: int, words: str) -> None:
    assert " ".join(french(number)) == words


@pytest.mark.parametrize(
    ("number", "words"),
    [(1, "واحد"), (12, "طناش"), (21, "واحد وعشرين"), (135, "مية و خمسة وتلاتين"), (2000, "ألفين"),
     (3000, "تلت آلاف"), (2026, "ألفين و ستة وعشرين"), (1980, "ألف و تسعمية و تمانين")],
)  # fmt: skip
def test_darija_numbers(number: int, words: str) -> None:
    assert " ".join(darija(number)) == words


def test_a_recorded_only_language_composes_values_from_its_fixed_prompts() -> None:
    """Tachelhit has no TTS voice: an amount is recorded units, each among its prompts."""
    for screen, reply in voice_replies("shi", written="ar"):
        for clip in speak(reply, "shi"):
            assert clip.dynamic or clip.text in fixed_texts(clip.language), f"{screen}: {clip!r}"
    amount = Voice("shi").value(Value("money", "13500"))
    assert [clip.text for clip in amount] == ["مية", "و", "خمسة وتلاتين", "درهم"]
    assert not any(clip.dynamic for clip in amount)


def test_the_language_menu_lists_the_languages_of_the_channel() -> None:
    screen_ctx, session = next(worst_cases(at_adapter.budget, "fr", "language", "covered"))
    on_screen = ENGINE._render(screen_ctx, session)
    assert [str(choice) for choice in on_screen.actions][:2] == ["1 العربية", "2 Français"]
    voice_ctx = dataclasses.replace(screen_ctx, channel="voice", _translators={})
    on_voice = ENGINE._render(voice_ctx, Session({**session.data, "lang": "fr"}))
    assert [(c.key, c.language) for c in on_voice.actions][:5] == [
        ("1", "ary"), ("2", "fr"), ("3", "shi"), ("4", "tzm"), ("5", "rif")
    ]  # fmt: skip
    assert [c.key for c in on_voice.actions][5:] == ["6", "7", "8"]  # the reminders follow (SMS off, on, by call)
    # Each language is announced in itself: French in French, Darija in Darija.
    said = speak(on_voice, "fr")
    assert [c.text for c in said if c.language == "fr"][:4] == ["Pour continuer en", "Français", "tapez", "deux"]
    assert {c.language for c in said} == {"ary", "fr", "shi", "tzm", "rif"}
    # Choosing Darija on the voice line stores the screen language (Arabic).
    saved: list[str] = []
    registry = voice_ctx.ports.registry
    object.__setattr__(registry, "save_language", lambda **kw: saved.append(kw["language"]))
    state = {**session.data, "lang": "fr", "stack": [{"s": "main"}, {"s": "language"}]}
    reply, state = ENGINE.step(voice_ctx, state, "1")
    assert state["lang"] == "ary" and saved == ["ar"] and reply.screen == "main"


def test_only_the_offered_languages_are_listed() -> None:
    ctx, session = next(worst_cases(Budget(), "fr", "language", "covered"))
    voice_ctx = dataclasses.replace(ctx, channel="voice", languages=("ary", "fr"), _translators={})
    reply = ENGINE._render(voice_ctx, Session({**session.data, "lang": "fr"}))
    assert [c.key for c in reply.actions] == ["1", "2", "3", "4", "5"]
