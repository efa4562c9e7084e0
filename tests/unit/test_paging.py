"""GSM-7 detection, screen budgets and automatic paging (menus/paging.py)."""

from __future__ import annotations

import pytest

from menus.paging import Budget, is_gsm7, paginate

BUDGET = Budget(gsm7=160, other=80)
MORE = "98 Suite"
BACK = "0 Retour"
EXTENSION_CHARACTERS = ["€", "[", "]", "{", "}", "^", "~", "\\", "|"]


def bodies(pages: list[str], *, back: str | None) -> list[list[str]]:
    """The content lines of each page, after checking and removing its footer."""
    result = []
    for index, page in enumerate(pages):
        lines = page.split("\n")
        if back is not None:
            assert lines[-1] == back, f"page {index} lacks the back line: {page!r}"
            lines = lines[:-1]
        if index < len(pages) - 1:
            assert lines[-1] == MORE, f"page {index} lacks the more line: {page!r}"
            lines = lines[:-1]
        else:
            assert MORE not in lines, f"the last page offers more: {page!r}"
        result.append(lines)
    return result


def assert_every_page_fits(pages: list[str]) -> None:
    for page in pages:
        assert BUDGET.fits(page), f"{BUDGET.length(page)} over {BUDGET.limit(page)}: {page!r}"


@pytest.mark.parametrize(
    "text",
    ["é", "è", "à", "ù", "Réglé à Fès, où?", "ABC xyz 0123456789 +*#\n", "".join(EXTENSION_CHARACTERS)],
)
def test_gsm7_text_is_recognised(text: str) -> None:
    assert is_gsm7(text)


@pytest.mark.parametrize("text", ["ç", "â", "ê", "î", "ô", "û", "ë", "ï", "مرحبا", "Reçu", "Fès à la tête"])
def test_text_with_any_character_outside_gsm7_is_not_gsm7(text: str) -> None:
    assert not is_gsm7(text)


@pytest.mark.parametrize("char", EXTENSION_CHARACTERS)
def test_extension_characters_cost_two_septets(char: str) -> None:
    assert BUDGET.length(char) == 2
    assert BUDGET.length("ab" + char) == 4


def test_plain_gsm7_characters_cost_one_septet() -> None:
    assert BUDGET.length("Réglé à 10h") == 11


def test_text_outside_gsm7_is_counted_in_characters() -> None:
    # Once one character forces UCS-2, `€` is one character like any other.
    assert BUDGET.length("ç€{") == 3


@pytest.mark.parametrize(
    ("text", "fits"),
    [
        ("a" * 160, True),
        ("a" * 161, False),
        ("é" * 160, True),
        ("é" * 161, False),
        ("€" * 80, True),
        ("€" * 80 + "a", False),
        ("ç" * 80, True),
        ("ç" * 81, False),
        ("ب" * 80, True),
        ("ب" * 81, False),
        ("a" * 79 + "ç", True),
        ("a" * 80 + "ç", False),
    ],
)
def test_fits_exact_boundaries(text: str, fits: bool) -> None:
    assert BUDGET.fits(text) is fits


def test_limit_is_160_for_gsm7_and_80_otherwise() -> None:
    assert BUDGET.limit("Paiement") == 160
    assert BUDGET.limit("Reçu") == 80
    assert BUDGET.limit("دفع") == 80


def test_default_budget_is_160_or_80() -> None:
    assert Budget().limit("Paiement") == 160
    assert Budget().limit("Reçu") == 80


def test_everything_on_one_page_when_it_fits() -> None:
    lines = ["1 Mon inscription", "2 Payer"]

    assert paginate(lines, BUDGET, MORE, BACK) == ["1 Mon inscription\n2 Payer\n0 Retour"]
    assert paginate(lines, BUDGET, MORE, None) == ["1 Mon inscription\n2 Payer"]


def test_a_page_filled_to_the_last_character_is_one_page() -> None:
    lines = ["x" * (160 - len(BACK) - 1)]

    assert paginate(lines, BUDGET, MORE, BACK) == [lines[0] + "\n" + BACK]


def test_long_content_is_split_into_pages_that_each_fit_with_their_footers() -> None:
    lines = [f"{n} Point de paiement numéro {n}, avenue Hassan II" for n in range(1, 16)]

    pages = paginate(lines, BUDGET, MORE, BACK)

    assert len(pages) > 1
    assert_every_page_fits(pages)
    # Lines that fit a page are never cut, and nothing is lost or reordered.
    assert [line for body in bodies(pages, back=BACK) for line in body] == lines


def test_without_a_back_line_pages_end_with_more_except_the_last() -> None:
    lines = [f"{n} Coopérative de tissage de la région {n}" for n in range(1, 12)]

    pages = paginate(lines, BUDGET, MORE, None)

    assert len(pages) > 1
    assert_every_page_fits(pages)
    assert all(BACK not in page for page in pages)
    assert [line for body in bodies(pages, back=None) for line in body] == lines


def test_pages_count_extension_characters_twice() -> None:
    # 100 septets each: two such lines never share a 160-septet page.
    lines = ["{" * 50, "}" * 50, "€" * 50]

    pages = paginate(lines, BUDGET, MORE, BACK)

    assert len(pages) == 3
    assert_every_page_fits(pages)
    assert bodies(pages, back=BACK) == [[line] for line in lines]


def test_a_line_longer_than_a_page_is_split_at_spaces() -> None:
    long_line = " ".join(f"mot{n}" for n in range(60))
    lines = ["Titre", long_line, "Fin"]

    pages = paginate(lines, BUDGET, MORE, BACK)

    assert len(pages) > 1
    assert_every_page_fits(pages)
    content = [line for body in bodies(pages, back=BACK) for line in body]
    assert content[0] == "Titre"
    assert content[-1] == "Fin"
    pieces = content[1:-1]
    assert len(pieces) > 1
    assert " ".join(pieces) == long_line
    for piece in pieces:  # cut between words, never inside one
        assert all(word.startswith("mot") and word[3:].isdigit() for word in piece.split(" "))


def test_a_huge_word_without_spaces_is_cut_hard() -> None:
    word = "".join(str(n % 10) for n in range(500))

    pages = paginate([word], BUDGET, MORE, BACK)

    assert len(pages) > 1
    assert_every_page_fits(pages)
    assert "".join(line for body in bodies(pages, back=BACK) for line in body) == word


def test_arabic_lines_page_at_80_characters() -> None:
    # 5 × 20 characters: one GSM-7 page would hold it, Arabic needs two.
    lines = [f"{n} " + "ب" * 18 for n in range(1, 6)]

    pages = paginate(lines, BUDGET, "98 المزيد", "0 رجوع")

    assert len(pages) > 1
    for page in pages:
        assert len(page) <= 80
    content = []
    for index, page in enumerate(pages):
        page_lines = page.split("\n")
        assert page_lines[-1] == "0 رجوع"
        footer = 2 if index < len(pages) - 1 else 1
        if index < len(pages) - 1:
            assert page_lines[-2] == "98 المزيد"
        content += page_lines[:-footer]
    assert content == lines


def test_a_long_arabic_line_is_split_into_pieces_of_80() -> None:
    long_line = " ".join(["كلمة"] * 60)

    pages = paginate([long_line], BUDGET, MORE, BACK)

    assert len(pages) > 1
    assert all(len(page) <= 80 for page in pages)
    assert " ".join(line for body in bodies(pages, back=BACK) for line in body) == long_line


ACTIONS = ["1 Payer tout", "2 Choisir les mois"]


def test_the_actions_stand_on_the_first_page_and_the_information_pages_after() -> None:
    info = [f"Ligne d'information numéro {n:02}" for n in range(8)]  # é: 80 characters a page

    pages = paginate(info, BUDGET, MORE, BACK, actions=ACTIONS)

    assert_every_page_fits(pages)
    first, *rest = bodies(pages, back=BACK)
    assert first[-2:] == ACTIONS and first[:-2] == info[: len(first) - 2]  # leading lines, then the actions
    assert [line for body in rest for line in body] == info[len(first) - 2 :]  # the rest, in order
    assert not any(line in ACTIONS for body in rest for line in body)


def test_actions_that_fit_with_everything_come_after_it_on_one_page() -> None:
    assert paginate(["Dû : 3 mois"], BUDGET, MORE, BACK, actions=ACTIONS) == [
        "\n".join(["Dû : 3 mois", *ACTIONS, BACK])
    ]


def test_the_answer_to_the_last_move_stays_above_the_actions() -> None:
    info = [f"Ligne d'information numéro {n:02}" for n in range(8)]

    pages = paginate(["Choix invalide.", *info], BUDGET, MORE, BACK, actions=ACTIONS, keep=1)

    first = bodies(pages, back=BACK)[0]
    assert first[0] == "Choix invalide." and first[-2:] == ACTIONS


def test_a_kept_line_too_long_to_share_the_page_leaves_everything_in_order() -> None:
    notice = "é" * 60
    info = ["Titre"]

    pages = paginate([notice, *info], BUDGET, MORE, BACK, actions=ACTIONS, keep=1)

    assert_every_page_fits(pages)
    shown = [line for body in bodies(pages, back=BACK) for line in body]
    assert shown == [notice, *info, *ACTIONS]
