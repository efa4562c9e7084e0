"""Texts from the Babel/gettext catalogues in menus/locale (`ar` and `fr`).

Source strings are English msgids marked with `N_` so that `pybabel extract` finds
them; every user-facing string goes through a catalogue.
"""

from __future__ import annotations

import datetime as dt
import functools
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
        return text.format(**values) if values else text

    def month(self, year: int, month: int) -> str:
        return f"{month:02d}/{year}"

    def months(self, first: dt.date, count: int) -> str:
        return months_label(first, count)

    def money(self, centimes: int) -> str:
        return format_amount(centimes, self.language)


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
