"""Texts from the Babel/gettext catalogues in menus/locale (one per language of
menus/locale/languages.toml), and values (amounts, months, days, references) as each
channel shows them.

Source strings are English msgids marked with `N_` so that `pybabel extract` finds
them; every user-facing string goes through a catalogue. Screens put values through the
translator (`t.money()`, `t.month()`, `t.months()`, `t.month_span()`, `t.day()`,
`t.moment()`, `t.reference()`): on screens they are written out, for the voice line
(`SpokenTranslator`) they are marked so that the speech renderer says them in words.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from pathlib import Path

from babel.messages.pofile import read_po

from menus.languages import SCREEN, languages, on_channel, written

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
# The screen languages (USSD, SMS, the web pages); the voice line has its own (languages.toml).
LANGUAGES = on_channel(SCREEN)


def N_(message: str) -> str:
    """Mark a string for extraction; translation happens when it is shown."""
    return message


@functools.cache
def catalogue(language: str) -> dict[str, str]:
    """The translated messages of `language` (none when it has no catalogue yet)."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if not path.is_file():
        return {}
    with path.open("rb") as handle:
        parsed = read_po(handle, locale=language)
    return {
        str(message.id): str(message.string)
        for message in parsed
        if message.id and message.string and not message.fuzzy
    }


@functools.cache
def messages(language: str) -> dict[str, str]:
    """What `language` says for each msgid: its own catalogue, over the catalogue of its
    screen language (a Darija message not translated yet is said in Arabic, not English)."""
    return {**catalogue(written(language)), **catalogue(language)}


class Translator:
    """Translate marked strings into one language, filling `{named}` fields; values as a
    screen shows them."""

    def __init__(self, language: str) -> None:
        self.language = language if language in languages() else LANGUAGES[0]
        self._messages = messages(self.language)

    def __call__(self, message: str, **values: object) -> str:
        text = self._messages.get(message, message)
        if not values:
            return text
        return text.format(**{name: self.keep_order(v) if isinstance(v, str) else v for name, v in values.items()})

    def keep_order(self, text: str) -> str:
        return keep_order(text, self.language)

    def month(self, year: int, month: int) -> str:
        return f"{month:02d}/{year}"

    def months(self, first: dt.date, count: int) -> str:
        return months_label(first, count)

    def month_span(self, first: dt.date, last: dt.date) -> str:
        """From the month of `first` to the month of `last` (the same: that month alone)."""
        count = (last.year - first.year) * 12 + last.month - first.month + 1
        return self.months(first, 1) if count <= 1 else f"{self.months(first, 1)}-{self.months(last, 1)}"

    def money(self, centimes: int) -> str:
        return format_amount(centimes, self.language)

    def reference(self, value: str) -> str:
        """A payment reference in groups (`123-456-7890`); any other code as it is."""
        return grouped(value) if len(value) == 10 and value.isascii() and value.isdigit() else value

    def day(self, date: dt.date, *, year: bool = True) -> str:
        return f"{date:%d/%m/%Y}" if year else f"{date:%d/%m}"

    def moment(self, moment: dt.datetime) -> str:
        return f"{moment:%d/%m %H:%M}"

    def data(self, text: str) -> str:
        """A text of the data (a name, an address) standing alone on a line."""
        return text


# A value for the ear, marked inside a text: START kind SEP payload END (private-use
# characters, which no catalogue or data text holds).
START, SEP, END = "\ue000", "\ue001", "\ue002"
VALUE = re.compile(f"{START}([a-z]+){SEP}([^{END}]*){END}")
# Kinds: a number, an amount in centimes, a month (YYYY-MM), months (YYYY-MM:count), a
# span of months (YYYY-MM:YYYY-MM), a day (YYYY-MM-DD, :y with its year), a moment
# (ISO, minutes), a reference or code, a fixed text of the catalogue, a data text (a name).
KINDS = frozenset({"number", "money", "month", "months", "span", "day", "moment", "reference", "fixed", "data"})


@dataclass(frozen=True)
class Value:
    kind: str
    payload: str


def mark(kind: str, payload: object) -> str:
    return f"{START}{kind}{SEP}{payload}{END}"


def pieces(text: str) -> list[str | Value]:
    """`text` cut into its texts and its marked values, in order."""
    found: list[str | Value] = []
    position = 0
    for match in VALUE.finditer(text):
        found.append(text[position : match.start()])
        found.append(Value(match.group(1), match.group(2)))
        position = match.end()
    found.append(text[position:])
    return [piece for piece in found if piece != ""]


class SpokenTranslator(Translator):
    """The translator of the voice line: the same texts, with every value and every field
    marked (see `pieces`), so that the renderer says each as a person would and the
    fixed texts around them stay the catalogue's pieces (one recording each)."""

    def __init__(self, language: str) -> None:
        super().__init__(language)
        # The texts with no field: a field holding one (a network's name) is said as itself.
        self._fixed = frozenset(text for text in self._messages.values() if "{" not in text)

    def __call__(self, message: str, **values: object) -> str:
        text = self._messages.get(message, message)
        if not values:
            return text
        return text.format(**{name: self.field(value) for name, value in values.items()})

    def field(self, value: object) -> str:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            return self.data(str(value))
        if isinstance(value, int):
            return mark("number", value)
        if VALUE.search(value):
            return value
        return mark("fixed", value) if value in self._fixed else self.data(value)

    def data(self, text: str) -> str:
        return mark("data", text.replace(END, ""))

    def keep_order(self, text: str) -> str:
        return text

    def month(self, year: int, month: int) -> str:
        return mark("month", f"{year:04d}-{month:02d}")

    def months(self, first: dt.date, count: int) -> str:
        return mark("months", f"{first:%Y-%m}:{count}")

    def month_span(self, first: dt.date, last: dt.date) -> str:
        return mark("span", f"{first:%Y-%m}:{last:%Y-%m}")

    def money(self, centimes: int) -> str:
        return mark("money", centimes)

    def reference(self, value: str) -> str:
        return mark("reference", value.replace(END, ""))

    def day(self, date: dt.date, *, year: bool = True) -> str:
        return mark("day", f"{date:%Y-%m-%d}" + (":y" if year else ""))

    def moment(self, moment: dt.datetime) -> str:
        return mark("moment", f"{moment:%Y-%m-%dT%H:%M}")


# Left-to-right mark: a strong left-to-right character that shows nothing.
LRM = "\u200e"
# Digits split by a space or a hyphen. In right-to-left text the Unicode bidi algorithm
# shows such groups in reverse order: after Arabic letters, digits are Arabic numbers
# (rule W2), which only a common separator (/ . , : and no-break space) joins into one
# run (W4); a space or a hyphen stays neutral and takes the paragraph's direction (N1).
# A code's letters lead the run with its digits (FC-4821-7730: the mark goes before FC).
SPLIT_NUMBER = re.compile(r"(?:\b[A-Z]{1,4}-)?\d[\d/.,:]*(?:[ -]+\d[\d/.,:]*)+")


def keep_order(text: str, language: str) -> str:
    """`text` with a left-to-right mark before each number split by spaces or hyphens
    (`298-485-9149`, `01/2026-03/2026`, `31/12 23:59`), in Arabic only: after the mark
    its digits, separators and spaces are one left-to-right run (rules W7 and N1), shown
    in the order written. The mark is the one every bidi display knows (Unicode 1.1;
    isolates came in 6.3) and costs one character; French stays GSM-7 without it."""
    if written(language) != "ar":
        return text
    return SPLIT_NUMBER.sub(lambda match: LRM + match.group(0), text)


def grouped(reference: str) -> str:
    """`1234567890` -> `123-456-7890`, easier to read out at a counter: a hyphen, not a
    space, so that it reads as one number (see `keep_order` for right-to-left text)."""
    return f"{reference[:3]}-{reference[3:6]}-{reference[6:]}"


def months_label(first: dt.date, count: int) -> str:
    """`count` months from `first`: `09/2026` or `09/2026-11/2026`."""
    last_year, last_month = divmod(first.year * 12 + first.month - 1 + count - 1, 12)
    if count == 1:
        return f"{first.month:02d}/{first.year}"
    return f"{first.month:02d}/{first.year}-{last_month + 1:02d}/{last_year}"


def format_amount(centimes: int, language: str) -> str:
    """Integer centimes as `135,00 MAD` (fr) or `135.00 درهم` (ar). No float near money."""
    sign = "-" if centimes < 0 else ""
    dirhams, rest = divmod(abs(centimes), 100)
    if language == "ar":
        return f"{sign}{dirhams}.{rest:02d} درهم"
    return f"{sign}{dirhams},{rest:02d} MAD"
