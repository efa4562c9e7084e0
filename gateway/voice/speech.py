"""What the voice line says: a menu reply as a list of clips. Pure: no I/O.

A `Clip` is one piece of audio to play, identified by its language and exact text;
recordings and synthesised audio are both keyed by `Clip.id`.

`speak` says a whole screen (nothing is paged): the error or notice, the lines, then each
choice as "for <label>, press <key>", then the keys (0 back; # after typing). The
screens' texts come from the spoken translator (menus.i18n.SpokenTranslator): fixed texts
are cut at their values, and each piece is a clip of its own (what a voice talent
records once, listed by `fixed_prompts`). A value (an amount, a month, a day, a
reference, a name) is said in words: in a language with a text-to-speech voice as one
synthesised clip of those words; in a recorded-only language (Amazigh) composed of
recorded units (number words, months, digits, letters), one clip each. Why: a synthesised
value is one clip (one audio fetch) and sounds like a sentence; composing is what works
without a voice, at the cost of a clip per word.
"""

from __future__ import annotations

import functools
import hashlib
import re
import string
from dataclasses import dataclass, field
from pathlib import Path

from babel.messages.extract import extract_from_file

from gateway.voice.words import number_units, units_of
from menus.engine import Choice, Reply
from menus.i18n import N_, Translator, Value, pieces
from menus.languages import language as language_of

OPTION = N_("For {label}, press {key}.")
# Each language of the offer is announced in itself: "Pour continuer en Français, tapez 2."
LANGUAGE_OPTION = N_("To continue in {language}, press {key}.")
BACK_HELP = N_("To go back, press {key}.")
REPEAT_HELP = N_("To hear this again, press {key}.")
ENTRY_HELP = N_("After typing, press {key}.")
KEY_NAMES = {"*": N_("star"), "#": N_("hash")}
DIRHAMS = N_("{dirhams} dirhams")
DIRHAMS_CENTIMES = N_("{dirhams} dirhams and {centimes} centimes")
MONTHS_FROM_TO = N_("from {first} to {last}")
AT_HOUR = N_("{day} at {hours} o'clock")
AT_TIME = N_("{day} at {hours} h {minutes}")
MONTH_NAMES = (
    N_("January"),
    N_("February"),
    N_("March"),
    N_("April"),
    N_("May"),
    N_("June"),
    N_("July"),
    N_("August"),
    N_("September"),
    N_("October"),
    N_("November"),
    N_("December"),
)
FIRST_OF_MONTH = N_("first")  # "le premier mars" in French; a number elsewhere
# The catalogue messages only the ear hears (never on a screen).
VOICE_MESSAGES = frozenset(
    {OPTION, LANGUAGE_OPTION, BACK_HELP, REPEAT_HELP, ENTRY_HELP, *KEY_NAMES.values(), DIRHAMS, DIRHAMS_CENTIMES}
    | {MONTHS_FROM_TO, AT_HOUR, AT_TIME, *MONTH_NAMES, FIRST_OF_MONTH}
)
# The highest key a list may number (menus.cashpoints.MAX_ITEMS).
MAX_KEY = 97
# Around a piece of text: spaces and the punctuation a field sits in ("Total : {amount}").
PIECE_EDGES = " \t\n:;,،-–()/*"
PAUSE = ","
LETTERS = tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
MENUS_DIR = Path(__file__).resolve().parents[2] / "menus"
# Besides the menus, what a call may say: this renderer's phrasing, the call's own words
# (the offer, no answer) and the last words of the hop path (unavailable, refused...).
CALL_FILES = tuple(
    Path(__file__).resolve().parents[1] / name for name in ("voice/speech.py", "voice/service.py", "ussd/service.py")
)


@dataclass(frozen=True)
class Clip:
    language: str
    text: str
    # Said from the data (a synthesised value, a name): never among the fixed prompts.
    dynamic: bool = field(default=False, compare=False)

    @property
    def id(self) -> str:
        """Stable id of this prompt: the file name of its recording and of its audio."""
        return hashlib.sha256(f"{self.language}\0{self.text}".encode()).hexdigest()[:16]


def speak(reply: Reply, language: str) -> list[Clip]:
    """The clips that say `reply` in `language`: the whole screen, never a page of it."""
    voice = Voice(language)
    clips: list[Clip] = []
    for text in (*reply.head, *reply.lines):
        clips += voice.text(text)
    for choice in reply.actions:
        clips += voice.choice(choice)
    if reply.back:
        clips += voice.message(BACK_HELP, key=voice.key("0"))
    if not reply.final and not one_key(reply):
        clips += voice.message(ENTRY_HELP, key=voice.key("#"))
    return clips


def say(msgid: str, language: str) -> list[Clip]:
    """A catalogue message without fields, said in `language` (a call's last words)."""
    return Voice(language).message(msgid)


def one_key(reply: Reply) -> bool:
    """Whether the screen is answered by one key (AT posts it at once): not an entry of
    several digits (`typed`), and no choice numbered past 9. Otherwise `#` ends the entry."""
    return not reply.typed and all(len(choice.key) == 1 for choice in reply.actions)


def fixed_prompts(language: str) -> list[Clip]:
    """Every clip of `language` that does not depend on data (what a voice talent records):
    the menus' catalogue texts cut at their fields, the option and key phrasing, the
    language's own name, and the vocabulary values are composed of (number words, months,
    letters)."""
    t = Translator(language)
    texts: list[str] = []
    for msgid in menu_messages():
        texts += fixed_pieces(t(msgid))
    texts.append(language_of(language).name)
    vocabulary = [*number_vocabulary(language), *LETTERS]
    found = dict.fromkeys(text for text in (*texts, *vocabulary) if text)
    return [Clip(language, text) for text in found]


def number_vocabulary(language: str) -> list[str]:
    return sorted(units_of(language))


@functools.cache
def menu_messages() -> tuple[str, ...]:
    """The msgids the menus and this renderer use (not the dashboard's, not the SMS)."""
    found: dict[str, None] = {}
    for path in [*sorted(MENUS_DIR.glob("*.py")), *CALL_FILES]:
        for _line, message, _comments, _context in extract_from_file(
            "python", str(path), keywords={"N_": None, "t": None}
        ):
            if isinstance(message, str) and message:
                found[message] = None
    return tuple(found)


def fixed_pieces(text: str) -> list[str]:
    """A catalogue text cut at its `{fields}`: the pieces said around the values; a
    choice ("1 Pay all due") without its number (the key is said by the option phrasing)."""
    numbered = re.fullmatch(r"\d+ (.+)", text, re.DOTALL)
    if numbered:
        text = numbered.group(1)
    found = []
    for literal, _field, _spec, _conversion in string.Formatter().parse(text):
        piece = trim(literal)
        if piece:
            found.append(piece)
    return found


def trim(text: str) -> str:
    """A piece of text as a clip says it: no spaces or punctuation around it ("" for none)."""
    piece = text.rstrip(PIECE_EDGES).lstrip(PIECE_EDGES + ".")
    return piece if any(ch.isalnum() for ch in piece) else ""


class Voice:
    """Says texts, choices and values in one language."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.t = Translator(language)
        self.synthesised = language_of(language).synthesised

    def fixed(self, text: str) -> list[Clip]:
        piece = trim(text)
        return [Clip(self.language, piece)] if piece else []

    def text(self, text: str) -> list[Clip]:
        """A text of a screen: its fixed pieces and its values, in order."""
        clips: list[Clip] = []
        for piece in pieces(text):
            if isinstance(piece, Value):
                clips += self.value(piece)
            else:
                clips += self.fixed(piece)
        return clips

    def choice(self, choice: Choice) -> list[Clip]:
        if choice.language is not None:
            # A language of the offer: announced in itself, whatever the call's language.
            own = Voice(choice.language)
            return own.message(LANGUAGE_OPTION, language=own.fixed(choice.label), key=own.key(choice.key))
        return self.message(OPTION, label=self.text(choice.label), key=self.key(choice.key))

    def message(self, msgid: str, **fields: list[Clip]) -> list[Clip]:
        """A catalogue message said piece by piece, each field by its clips."""
        clips: list[Clip] = []
        for literal, name, _spec, _conversion in string.Formatter().parse(self.t(msgid)):
            clips += self.fixed(literal)
            if name:
                clips += fields[name]
        return clips

    def key(self, key: str) -> list[Clip]:
        if key in KEY_NAMES:
            return self.fixed(self.t(KEY_NAMES[key]))
        return [Clip(self.language, unit) for unit in number_units(int(key), self.language)]

    def value(self, value: Value) -> list[Clip]:
        if value.kind == "fixed":
            return self.fixed(value.payload)
        if value.kind == "data":
            words = self.data_words(value.payload)
            return [Clip(self.language, words, dynamic=True)] if words else []
        units = self.units(value)
        if self.synthesised:
            words = " ".join(units).replace(f" {PAUSE}", PAUSE)
            return [Clip(self.language, words, dynamic=True)]
        return [Clip(self.language, unit) for unit in units if unit != PAUSE]

    # Values as units: words (or a few) that a recorded language has a clip for each.

    def units(self, value: Value) -> list[str]:
        kind, payload = value.kind, value.payload
        if kind == "number":
            return self.number(int(payload))
        if kind == "money":
            dirhams, centimes = divmod(abs(int(payload)), 100)
            if centimes:
                return self.compose(DIRHAMS_CENTIMES, dirhams=self.number(dirhams), centimes=self.number(centimes))
            return self.compose(DIRHAMS, dirhams=self.number(dirhams))
        if kind == "month":
            return self.month(payload)
        if kind in ("months", "span"):
            first, rest = payload.split(":")
            if kind == "months":
                year, month = (int(part) for part in first.split("-"))
                last_year, last_month = divmod(year * 12 + month - 1 + int(rest) - 1, 12)
                rest = f"{last_year:04d}-{last_month + 1:02d}"
            if rest == first:
                return self.month(first)
            return self.compose(MONTHS_FROM_TO, first=self.month(first), last=self.month(rest))
        if kind == "day":
            return self.day(payload)
        if kind == "moment":
            day, time = payload.split("T")
            hours, minutes = (int(part) for part in time.split(":"))
            said = self.day(day)
            if minutes == 0:
                return self.compose(AT_HOUR, day=said, hours=self.number(hours))
            return self.compose(AT_TIME, day=said, hours=self.number(hours), minutes=self.number(minutes))
        if kind == "reference":
            return self.reference(payload)
        raise ValueError(f"unknown value kind {kind!r}")

    def number(self, n: int) -> list[str]:
        return number_units(n, self.language)

    def month(self, payload: str) -> list[str]:
        year, month = (int(part) for part in payload.split("-")[:2])
        return [self.t(MONTH_NAMES[month - 1]), *self.number(year)]

    def day(self, payload: str) -> list[str]:
        date, _, with_year = payload.partition(":")
        year, month, day = (int(part) for part in date.split("-"))
        said = [self.t(FIRST_OF_MONTH)] if day == 1 and self.language == "fr" else self.number(day)
        return [*said, self.t(MONTH_NAMES[month - 1]), *(self.number(year) if with_year else [])]

    def reference(self, code: str) -> list[str]:
        """Digit by digit, in the groups a screen shows (123 456 7890), letters by name."""
        groups = re.findall(r"[A-Za-z]+|\d+", code)
        if len(groups) == 1 and groups[0].isdigit() and len(groups[0]) == 10:
            digits = groups[0]
            groups = [digits[:3], digits[3:6], digits[6:]]
        units: list[str] = []
        for group in groups:
            if units:
                units.append(PAUSE)
            units += [self.number(int(ch))[0] if ch.isdigit() else ch.upper() for ch in group]
        return units

    def compose(self, msgid: str, **fields: list[str]) -> list[str]:
        units: list[str] = []
        for literal, name, _spec, _conversion in string.Formatter().parse(self.t(msgid)):
            piece = trim(literal)
            if piece:
                units.append(piece)
            if name:
                units += fields[name]
        return units

    def data_words(self, text: str) -> str:
        """A text of the data (a name, a masked number) as words: a run of digits with a
        leading zero, of more than 4, or in a masked number (**0001), digit by digit; a
        shorter one as a number; masks and separators dropped."""
        masked = "*" in text

        def digits(match: re.Match[str]) -> str:
            run = match.group(0)
            if masked or run.startswith("0") or len(run) > 4:
                return " ".join(self.number(int(ch))[0] for ch in run)
            return " ".join(self.number(int(run)))

        words = re.sub(r"\d+", digits, text)
        return " ".join(re.sub(r"[*/_|#]+", " ", words).split())


@functools.cache
def fixed_texts(language: str) -> frozenset[str]:
    """The texts of `language`'s fixed prompts (a set, to look one up)."""
    return frozenset(clip.text for clip in fixed_prompts(language))
