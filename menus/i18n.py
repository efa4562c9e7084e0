"""Texts from the Babel/gettext catalogues in menus/locale (`ar` and `fr`).

Source strings are English msgids marked with `N_` so that `pybabel extract` finds
them; every user-facing string goes through a catalogue.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from pathlib import Path

from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("ar", "fr")


def N_(message: str) -> str:
    """Mark a string for extraction; translation happens when it is shown."""
    return message


@functools.cache
def catalogue(language: str) -> dict[str, str]:
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        parsed = read_po(handle, locale=language)
    return {
        str(message.id): str(message.string)
        for message in parsed
        if message.id and message.string and not message.fuzzy
    }


class Translator:
    """Translate marked strings into one language, filling `{named}` fields."""

    def __init__(self, language: str) -> None:
        self.language = language if language in LANGUAGES else LANGUAGES[0]
        self._messages = catalogue(self.language)

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

    def money(self, centimes: int) -> str:
        return format_amount(centimes, self.language)


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
    if language != "ar":
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
