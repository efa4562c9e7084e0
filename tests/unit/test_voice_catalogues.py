"""The voice catalogues: Darija (ary) complete and marked for review, the Amazigh ones
(shi, tzm, rif) present with every msgid and waiting for translation, all `msgfmt --check`
clean and already in the form `make messages` writes (so it keeps the review marker)."""

from __future__ import annotations

import re
import shutil
import string
import subprocess
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from menus.i18n import LOCALE_DIR

REVIEW_MARKER = "# NEEDS REVIEW by native Darija speakers before production"
AMAZIGH = ("shi", "tzm", "rif")
VOICE = ("ary", *AMAZIGH)
OPTION = re.compile(r"^(\d+) ")
# Said to someone who may not read: the words in full, not the letters of an acronym.
ABBREVIATIONS = re.compile(r"\b(?:AMO|CIN|CNSS|PIN|RNA|SMS|MAD)\b")
OFFICIAL_TERMS = (  # docs/glossary.md
    "السجل الوطني للصناعة التقليدية",
    "التأمين الإجباري عن المرض",
    "غرفة الصناعة التقليدية",
    "واجبات الانخراط",
    "التعويض عن مصاريف العلاجات الطبية",
    "دار المقاول",
    "وفاكاش",
    "الفلاحي كاش",
)


def _path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"


def _template() -> list[str]:
    with (LOCALE_DIR / "messages.pot").open("rb") as handle:
        return [str(m.id) for m in read_po(handle) if m.id]


def _catalogue(language: str) -> dict[str, tuple[str, bool]]:
    with _path(language).open("rb") as handle:
        return {str(m.id): (str(m.string), m.fuzzy) for m in read_po(handle) if m.id}


def _fields(text: str) -> list[str]:
    return sorted(name for _, name, _, _ in string.Formatter().parse(text) if name)


def test_darija_translates_every_msgid_of_the_template() -> None:
    darija = _catalogue("ary")
    template = _template()
    assert set(darija) == set(template)
    for msgid in template:
        text, fuzzy = darija[msgid]
        assert text.strip() and not fuzzy, f"untranslated {msgid!r}"
        assert _fields(text) == _fields(msgid), f"placeholders differ in {msgid!r}: {text!r}"
        option = OPTION.match(msgid)
        if option:
            assert text.startswith(option.group(0)), f"option number lost in {msgid!r}: {text!r}"


def test_darija_is_written_for_the_ear() -> None:
    arabic = re.compile(r"[\u0621-\u064A]")
    texts = {msgid: text for msgid, (text, _) in _catalogue("ary").items()}
    for msgid, text in texts.items():
        assert arabic.search(text), f"no Arabic script in {msgid!r}: {text!r}"
        assert not ABBREVIATIONS.search(text), f"an abbreviation in {msgid!r}: {text!r}"
    spoken = " ".join(texts.values())
    for term in OFFICIAL_TERMS:
        assert term in spoken, term


def test_darija_carries_the_review_marker() -> None:
    lines = _path("ary").read_text(encoding="utf-8").splitlines()
    header = lines[: lines.index('msgid ""')]
    assert REVIEW_MARKER in header, "the Darija catalogue must say it needs review before production"
    assert '"Language: ary\\n"' in lines


@pytest.mark.parametrize("language", AMAZIGH)
def test_amazigh_catalogues_list_every_msgid_and_wait_for_translation(language: str) -> None:
    catalogue = _catalogue(language)
    assert set(catalogue) == set(_template())
    assert all(text == "" for text, _ in catalogue.values()), "translated by native speakers only"
    content = _path(language).read_text(encoding="utf-8")
    assert "WAITING FOR TRANSLATION AND RECORDINGS by native speakers" in content
    assert f'"Language: {language}\\n"' in content


@pytest.mark.parametrize("language", VOICE)
def test_msgfmt_check_is_clean(language: str, tmp_path: Path) -> None:
    msgfmt = shutil.which("msgfmt")
    assert msgfmt, "msgfmt (Debian package gettext) is needed: `make gettext`"
    result = subprocess.run(
        [msgfmt, "--check", "-o", str(tmp_path / "messages.mo"), str(_path(language))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    if language == "ary":  # its header is filled in: not even a warning
        assert result.stderr == ""


def test_make_messages_leaves_the_voice_catalogues_as_they_are(tmp_path: Path) -> None:
    """`pybabel update` (as `make messages` runs it) rewrites nothing but the date: the
    files are in its form, so a refresh neither churns them nor drops the review marker."""
    locale = tmp_path / "locale"
    shutil.copy(LOCALE_DIR / "messages.pot", tmp_path / "messages.pot")
    for language in VOICE:
        (locale / language / "LC_MESSAGES").mkdir(parents=True)
        shutil.copy(_path(language), locale / language / "LC_MESSAGES" / "messages.po")
    update = ["pybabel", "-q", "update", "-i", str(tmp_path / "messages.pot"), "-d", str(locale)]
    CommandLineInterface().run([*update, "--no-wrap", "--ignore-obsolete"])
    date = re.compile(r'^"POT-Creation-Date: .*\n', re.MULTILINE)
    for language in VOICE:
        before = _path(language).read_text(encoding="utf-8")
        after = (locale / language / "LC_MESSAGES" / "messages.po").read_text(encoding="utf-8")
        assert date.sub("", after) == date.sub("", before), language
