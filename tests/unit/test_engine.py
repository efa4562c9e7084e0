"""The conversation engine with a small screen set of our own (menus/engine.py).

Between hops the state goes through JSON, as it does through the session store.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from menus.engine import Context, End, Engine, Go, Invalid, Reply, Screen, Session, Step, View
from menus.i18n import Translator
from menus.paging import Budget
from menus.ports import Caller, Ports

LANGUAGE = "fr"
T = Translator(LANGUAGE)
LIST_LINES = [f"{n:02d} Point de paiement, avenue Mohammed V" for n in range(1, 16)]
FAREWELL_LINES = [f"Merci {n}, votre demande est enregistrée." for n in range(1, 9)]


class HomeScreen:
    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        return View(["Accueil", "1 Liste", "2 Fin", "3 Saisie", "4 Quitter"])

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        targets = {"1": "list", "2": "farewell", "3": "entry"}
        if value in targets:
            return Go(targets[value])
        if value == "4":
            return End(["Au revoir."])
        return Invalid()


class ListScreen:
    """Long enough for several pages; any answer is echoed."""

    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        return View(LIST_LINES)

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        return Go("echo", params={"got": value})


class EntryScreen:
    """Takes digits only."""

    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        return View(["Saisie", "Tapez un nombre"])

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        if value.isdigit():
            return Go("echo", params={"got": value, "history": [value, {"n": int(value)}]})
        return Invalid()


class EchoScreen:
    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        return View([f"Reçu {session.params['got']}", f"Historique {session.params.get('history')}"])

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        return Invalid()


class FarewellScreen:
    """A final view spread over several pages."""

    def render(self, ctx: Context, session: Session, t: Translator) -> View:
        return View(FAREWELL_LINES, final=True)

    def handle(self, ctx: Context, session: Session, value: str, t: Translator) -> Step:
        return Invalid()


SCREENS: dict[str, Screen] = {
    "home": HomeScreen(),
    "list": ListScreen(),
    "entry": EntryScreen(),
    "echo": EchoScreen(),
    "farewell": FarewellScreen(),
}


class FakeRegistry:
    """Only `caller` is used by the engine; the phone is not linked to anyone."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def caller(self, phone: str) -> Caller:
        self.asked.append(phone)
        return Caller(artisan_id=None, language=None)


class Conversation:
    """Drives one session; the state is stored as JSON text between hops."""

    def __init__(self) -> None:
        self.registry = FakeRegistry()
        self.engine = Engine(SCREENS, home="home")
        self.ctx = Context(
            phone="+212600000001",
            ports=Ports(
                registry=self.registry,
                payments=None,
                agents=None,
                reimbursements=None,
                help=None,
                cashpoints=None,
                banks=None,
                registrations=None,
            ),  # type: ignore[arg-type]  # partial fakes
            budget=Budget(gsm7=160, other=80),
            today=dt.date(2026, 11, 24),
            default_language=LANGUAGE,
        )
        reply, data = self.engine.start(self.ctx)
        self.first = reply
        self.state = self._store(data)

    @staticmethod
    def _store(data: dict[str, Any]) -> str:
        stored = json.dumps(data)
        assert json.loads(stored) == data, "the state does not survive JSON unchanged"
        return stored

    def send(self, raw: str) -> Reply:
        reply, data = self.engine.step(self.ctx, json.loads(self.state), raw)
        self.state = self._store(data)
        return reply


@pytest.fixture
def talk() -> Conversation:
    return Conversation()


def test_start_shows_home_in_the_default_language(talk: Conversation) -> None:
    assert talk.first.screen == "home"
    assert not talk.first.final
    assert talk.first.text.startswith("Accueil\n1 Liste")
    assert T("0 Back") not in talk.first.text  # nowhere to go back to from home
    assert talk.registry.asked == ["+212600000001"]
    assert json.loads(talk.state)["lang"] == LANGUAGE


def test_input_is_trimmed(talk: Conversation) -> None:
    assert talk.send("  3 ").screen == "entry"


def test_zero_goes_back_to_the_previous_screen(talk: Conversation) -> None:
    entry = talk.send("3")
    assert entry.screen == "entry"
    assert entry.text.endswith("\n" + T("0 Back"))

    back = talk.send("0")

    assert back.screen == "home"
    assert back.text == talk.first.text


def test_zero_pops_one_screen_at_a_time(talk: Conversation) -> None:
    talk.send("3")
    assert talk.send("42").screen == "echo"

    assert talk.send("0").screen == "entry"
    assert talk.send("0").screen == "home"
    assert talk.send("0").screen == "home"  # home stays home


def test_zero_goes_to_the_previous_page_before_leaving_the_screen(talk: Conversation) -> None:
    page1 = talk.send("1")
    page2 = talk.send("98")
    assert page2.screen == "list"
    assert page2.text != page1.text

    again = talk.send("0")

    assert again.screen == "list"
    assert again.text == page1.text
    assert talk.send("0").screen == "home"


def test_double_zero_goes_home_from_anywhere(talk: Conversation) -> None:
    talk.send("3")
    talk.send("42")

    home = talk.send("00")

    assert home.screen == "home"
    assert home.text == talk.first.text
    assert talk.send("0").screen == "home"  # the stack was reset, not just topped with home


def test_double_zero_resets_the_page(talk: Conversation) -> None:
    page1 = talk.send("1")
    talk.send("98")
    talk.send("00")

    assert talk.send("1").text == page1.text


def test_ninety_eight_walks_the_pages_of_a_long_screen(talk: Conversation) -> None:
    pages = [talk.send("1")]
    while T("98 More") in pages[-1].text:
        pages.append(talk.send("98"))
        assert len(pages) < 20, "paging never ends"

    assert len(pages) > 1
    assert all(page.screen == "list" and not page.final for page in pages)
    shown = [line for page in pages for line in page.text.split("\n")]
    assert [line for line in shown if line in LIST_LINES] == LIST_LINES
    assert all(page.text.endswith(T("0 Back")) for page in pages)


def test_ninety_eight_on_the_last_page_keeps_that_page(talk: Conversation) -> None:
    reply = talk.send("1")
    while T("98 More") in reply.text:
        reply = talk.send("98")

    again = talk.send("98")

    assert again.screen == "list"
    assert again.text == reply.text  # no error line, the same page
    assert talk.send("0").text != reply.text  # and `0` still goes to the page before


def test_ninety_eight_on_a_single_page_screen_keeps_it(talk: Conversation) -> None:
    entry = talk.send("3")

    again = talk.send("98")

    assert again.screen == "entry"
    assert again.text == entry.text


def test_an_invalid_answer_shows_the_screen_again_with_an_error(talk: Conversation) -> None:
    reply = talk.send("7")

    assert reply.screen == "home"
    assert not reply.final
    assert reply.text.startswith(T("Invalid choice.") + "\n")
    assert talk.first.text in reply.text


def test_three_invalid_answers_in_a_row_end_the_session(talk: Conversation) -> None:
    first = talk.send("7")
    second = talk.send("x")
    third = talk.send("")

    assert not first.final
    assert not second.final
    assert third.final
    assert third.text == T("Too many wrong answers. Please dial again later.")


def test_a_valid_answer_resets_the_count_of_invalid_ones(talk: Conversation) -> None:
    talk.send("7")
    talk.send("x")
    assert talk.send("3").screen == "entry"  # valid

    fourth = talk.send("a")
    fifth = talk.send("b")
    sixth = talk.send("c")

    assert not fourth.final
    assert not fifth.final
    assert sixth.final


def test_nothing_continues_after_the_session_ended(talk: Conversation) -> None:
    for value in ("7", "7", "7"):
        talk.send(value)

    after = talk.send("1")

    assert after.final
    assert after.text == T("This session has ended. Please dial again.")


def test_a_final_view_ends_the_session_on_its_last_page_only(talk: Conversation) -> None:
    pages = [talk.send("2")]
    while not pages[-1].final:
        pages.append(talk.send("98"))
        assert len(pages) < 20, "paging never ends"

    assert len(pages) > 1
    assert all(page.screen == "farewell" for page in pages)
    assert all(T("98 More") in page.text for page in pages[:-1])
    assert T("98 More") not in pages[-1].text
    assert all(T("0 Back") not in page.text for page in pages)  # a final view offers no way back
    shown = [line for page in pages for line in page.text.split("\n")]
    assert [line for line in shown if line in FAREWELL_LINES] == FAREWELL_LINES
    assert talk.send("1").text == T("This session has ended. Please dial again.")


def test_end_step_ends_the_session(talk: Conversation) -> None:
    reply = talk.send("4")

    assert reply.final
    assert reply.text == "Au revoir."


def test_parameters_survive_json_between_hops(talk: Conversation) -> None:
    talk.send("3")
    echoed = talk.send("42")

    assert echoed.text == "Reçu 42\nHistorique ['42', {'n': 42}]\n" + T("0 Back")
    # Re-rendered from the stored state on the next hop (a `98` on the only page shows it
    # again, from the same parameters).
    again = talk.send("98")
    assert again.text == echoed.text
