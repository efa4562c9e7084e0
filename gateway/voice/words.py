"""Numbers as a person says them: French, and Darija (Moroccan Arabic, in Arabic script).

Each speller returns a number as a list of units (a word, or a few that go together) so
that a language without a text-to-speech voice can compose it from recorded units (see
`units_of`): a synthesised language joins them into one clip.

Written here rather than taken from num2words (not a dependency; it has no Darija): the
French rules are short (checked against num2words from 0 to 10 000 when written: the same
words), and Darija needs its own (حضاش, طناش..., 21 = "واحد وعشرين", 2 000 = "ألفين").
The Amazigh varieties count money with the Darija words (a voice talent records each unit
in the variety); docs/voice-languages.md holds the review of both lists.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

FR_UNITS = [
    "zéro",
    "un",
    "deux",
    "trois",
    "quatre",
    "cinq",
    "six",
    "sept",
    "huit",
    "neuf",
    "dix",
    "onze",
    "douze",
    "treize",
    "quatorze",
    "quinze",
    "seize",
    "dix-sept",
    "dix-huit",
    "dix-neuf",
]
FR_TENS = {2: "vingt", 3: "trente", 4: "quarante", 5: "cinquante", 6: "soixante"}


def _fr_below_100(n: int) -> str:
    if n < 20:
        return FR_UNITS[n]
    tens, unit = divmod(n, 10)
    if tens in (7, 9):  # soixante-dix..., quatre-vingt-dix...
        base = "soixante" if tens == 7 else "quatre-vingt"
        rest = n - (60 if tens == 7 else 80)
        joiner = " et " if rest == 11 and tens == 7 else "-"
        return f"{base}{joiner}{FR_UNITS[rest]}"
    if tens == 8:
        return "quatre-vingts" if unit == 0 else f"quatre-vingt-{FR_UNITS[unit]}"
    if unit == 0:
        return FR_TENS[tens]
    return f"{FR_TENS[tens]}{' et ' if unit == 1 else '-'}{FR_UNITS[unit]}"


def _fr_below_1000(n: int, *, final: bool) -> list[str]:
    """`final`: nothing multiplies it (deux cents, but deux cent mille)."""
    hundreds, rest = divmod(n, 100)
    units: list[str] = []
    if hundreds:
        if hundreds == 1:
            units.append("cent")
        else:
            units.append(f"{FR_UNITS[hundreds]} cent" + ("s" if rest == 0 and final else ""))
    if rest or not hundreds:
        word = _fr_below_100(rest)
        if rest == 80 and not final:
            word = "quatre-vingt"
        units.append(word)
    return units


def french(n: int) -> list[str]:
    if n < 0:
        return ["moins", *french(-n)]
    if n == 0:
        return ["zéro"]
    millions, rest = divmod(n, 1_000_000)
    thousands, below = divmod(rest, 1000)
    units: list[str] = []
    if millions:
        units += [*_fr_below_1000(millions, final=True), "million" if millions == 1 else "millions"]
    if thousands:
        units += ([] if thousands == 1 else _fr_below_1000(thousands, final=False)) + ["mille"]
    if below:
        units += _fr_below_1000(below, final=True)
    return units


ARY_UNITS = [
    "صفر",
    "واحد",
    "جوج",
    "تلاتة",
    "ربعة",
    "خمسة",
    "ستة",
    "سبعة",
    "تمنية",
    "تسعود",
    "عشرة",
    "حضاش",
    "طناش",
    "تلطاش",
    "ربعطاش",
    "خمسطاش",
    "سطاش",
    "سبعطاش",
    "تمنطاش",
    "تسعطاش",
]
ARY_TENS = {2: "عشرين", 3: "تلاتين", 4: "ربعين", 5: "خمسين", 6: "ستين", 7: "سبعين", 8: "تمانين", 9: "تسعين"}
ARY_HUNDREDS = ("", "مية", "ميتين", "تلتمية", "ربعمية", "خمسمية", "ستمية", "سبعمية", "تمنمية", "تسعمية")
# 3 000 to 10 000: the short form of the unit, then آلاف.
ARY_THOUSANDS = {3: "تلت", 4: "ربع", 5: "خمس", 6: "ست", 7: "سبع", 8: "تمن", 9: "تسع", 10: "عشر"}
AND = "و"


def _ary_below_100(n: int) -> str:
    if n < 20:
        return ARY_UNITS[n]
    tens, unit = divmod(n, 10)
    return ARY_TENS[tens] if unit == 0 else f"{ARY_UNITS[unit]} و{ARY_TENS[tens]}"


def _ary_below_1000(n: int) -> list[str]:
    hundreds, rest = divmod(n, 100)
    parts = [ARY_HUNDREDS[hundreds]] if hundreds else []
    if rest or not hundreds:
        parts.append(_ary_below_100(rest))
    return _joined(parts)


def _joined(parts: list[str]) -> list[str]:
    units: list[str] = []
    for part in parts:
        if units:
            units.append(AND)
        units.append(part)
    return units


def darija(n: int) -> list[str]:
    if n < 0:
        return ["ناقص", *darija(-n)]
    if n == 0:
        return ["صفر"]
    millions, rest = divmod(n, 1_000_000)
    thousands, below = divmod(rest, 1000)
    groups: list[list[str]] = []
    if millions:
        groups.append(["مليون"] if millions == 1 else [*_ary_below_1000(millions), "مليون"])
    if thousands:
        if thousands == 1:
            groups.append(["ألف"])
        elif thousands == 2:
            groups.append(["ألفين"])
        elif thousands in ARY_THOUSANDS:
            groups.append([f"{ARY_THOUSANDS[thousands]} آلاف"])
        else:
            groups.append([*_ary_below_1000(thousands), "ألف"])
    if below:
        groups.append(_ary_below_1000(below))
    units: list[str] = []
    for group in groups:
        if units:
            units.append(AND)
        units += group
    return units


SPELLERS: dict[str, Callable[[int], list[str]]] = {"fr": french}


def speller(language: str) -> Callable[[int], list[str]]:
    """French for French; Darija words for every other voice language (see the module)."""
    return SPELLERS.get(language, darija)


def number_units(n: int, language: str) -> list[str]:
    return speller(language)(n)


@functools.cache
def units_of(language: str) -> frozenset[str]:
    """Every unit a number of `language` is said with (what a recorded language needs)."""
    spell = speller(language)
    found: set[str] = set()
    for n in (*range(1000), *range(0, 1_000_000, 1000), *range(0, 30_000_000, 1_000_000)):
        found.update(spell(n))
    found.update(spell(-1))
    return frozenset(found)
