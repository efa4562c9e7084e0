"""The languages of the menus, as data (menus/locale/languages.toml): which channel
offers which, how each is named in itself, its screen language, its speech voices."""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path

LANGUAGES_FILE = Path(__file__).resolve().parent / "locale" / "languages.toml"
SCREEN, VOICE = "screen", "voice"


@dataclass(frozen=True)
class Language:
    code: str
    name: str
    channels: tuple[str, ...]
    written: str
    espeak: str
    azure: str
    review: str

    @property
    def synthesised(self) -> bool:
        """A text-to-speech voice speaks it: values are one synthesised clip of their
        words. Without one, a value is composed of recorded vocabulary clips."""
        return bool(self.espeak or self.azure)


@functools.cache
def languages() -> dict[str, Language]:
    """Every language, in the file's order (the order each channel offers them in)."""
    with LANGUAGES_FILE.open("rb") as handle:
        rows = tomllib.load(handle)["language"]
    found = {
        str(row["code"]): Language(
            code=str(row["code"]),
            name=str(row["name"]),
            channels=tuple(str(channel) for channel in row["channels"]),
            written=str(row["written"]),
            espeak=str(row.get("espeak", "")),
            azure=str(row.get("azure", "")),
            review=str(row.get("review", "")),
        )
        for row in rows
    }
    for language in found.values():
        screen = found.get(language.written)
        if screen is None or SCREEN not in screen.channels:
            raise ValueError(f"{language.code}: written language {language.written!r} is not a screen language")
    return found


def language(code: str) -> Language:
    """The language `code`, or the first screen language for an unknown code."""
    return languages().get(code) or languages()[on_channel(SCREEN)[0]]


def on_channel(channel: str) -> tuple[str, ...]:
    """The codes a channel offers, in order."""
    return tuple(code for code, row in languages().items() if channel in row.channels)


def written(code: str) -> str:
    """The screen language of `code`: its names, the preference stored, its fallback texts."""
    return language(code).written


def for_channel(code: str | None, channel: str, default: str) -> str:
    """The language to use on `channel` for a caller whose stored preference is `code`
    (a screen language): itself when the channel offers it, else the first language of
    the channel written the same way (a caller who chose Arabic on USSD hears Darija),
    else the channel's first language."""
    offered = on_channel(channel)
    wanted = code or default
    if wanted in offered:
        return wanted
    same = [candidate for candidate in offered if written(candidate) == written(wanted)]
    return (same or list(offered))[0]
