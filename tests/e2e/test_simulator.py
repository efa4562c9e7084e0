"""The phone simulator in a real browser (Debian's Chromium, headless, driven by
Playwright) against the gateway under a real HTTP server on the test database.

Screenshots land in tests/e2e/artifacts/."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from gateway.voice.words import darija
from gateway.web.simulator import CHROME
from menus.i18n import Translator
from models import OutboxMessage, PaymentReference, UssdSessionOutcome
from tests.voice_calls import heard_reference

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
YOUSSEF, AICHA = "+212600000002", "+212600000003"
REFERENCE = re.compile(r"\b(\d{3})[ -]?(\d{3})[ -]?(\d{4})\b")
ARABIC = re.compile(r"[\u0600-\u06FF]")
WAIT_MS = 5000


class Server:
    """The app under werkzeug in a thread. One request at a time, and `lock` lets the
    test read the shared database session without racing a request (the SMS poll)."""

    def __init__(self, app: Flask) -> None:
        self.lock = threading.Lock()
        self.httpd = make_server("127.0.0.1", 0, self._serialised(app), threaded=False)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _serialised(self, app: Flask) -> Callable[[dict[str, Any], Any], Iterable[bytes]]:
        def wsgi(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            with self.lock:
                # Read the whole body inside the lock: the database session is used while it is made.
                response = app(environ, start_response)
                try:
                    return [b"".join(response)]
                finally:
                    getattr(response, "close", lambda: None)()

        return wsgi


@pytest.fixture(scope="module")  # Playwright's loop stops with this module, before other tests run
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: `make test` installs it (apt-get install chromium chromium-driver)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        launched.close()


@pytest.fixture
def server(app: Flask, demo: Session) -> Iterator[Server]:
    running = Server(app)
    running.thread.start()
    yield running
    running.httpd.shutdown()
    running.thread.join(timeout=5)


@pytest.fixture
def page(browser: Browser, server: Server) -> Iterator[Page]:
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 860})
    context.set_default_timeout(WAIT_MS)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert not errors, errors


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def open_simulator(page: Page, server: Server, phone: str) -> None:
    page.goto(server.url + "/simulator")
    page.select_option("#phone-select", phone)
    expect(page.locator("#screen-phone")).to_have_text(phone)


def answered(page: Page) -> str:
    """The screen once the gateway has answered (a CON or an END screen)."""
    expect(page.locator("#screen")).to_have_attribute("data-state", re.compile("^(active|ended)$"))
    return page.inner_text("#screen-text")


def dial(page: Page) -> str:
    page.click("#dial")
    return answered(page)


def reply_on_keypad(page: Page, answer: str) -> str:
    for key in answer:
        page.click(f"#key-{ {'*': 'star', '#': 'hash'}.get(key, key) }")
    page.click("#key-send")
    return answered(page)


def reply_on_keyboard(page: Page, answer: str) -> str:
    page.keyboard.type(answer)
    page.keyboard.press("Enter")
    return answered(page)


def state(page: Page) -> str | None:
    return page.get_attribute("#screen", "data-state")


def test_pay_what_is_due_and_see_the_reference_by_sms(page: Page, server: Server, demo: Session) -> None:
    open_simulator(page, server, YOUSSEF)
    dial(page)
    reply_on_keypad(page, "2")  # pay AMO contributions
    reply_on_keypad(page, "1")  # pay all that is due
    reply_on_keyboard(page, "2")  # Fellah Cash
    screens = [reply_on_keyboard(page, "1")]  # confirm
    while state(page) == "active":  # the result may be paged: 98 more
        screens.append(reply_on_keypad(page, "98"))
    assert state(page) == "ended"
    found = REFERENCE.search("\n".join(screens))
    assert found, screens
    reference = "".join(found.groups())
    screenshot(page, "pay-reference")

    sms = page.locator(".sms-item .sms-body").first
    expect(sms).to_contain_text(found.group(3))
    assert reference in re.sub(r"\D", "", sms.inner_text())
    screenshot(page, "pay-reference-sms")
    page.close()  # stops the SMS poll
    with server.lock:
        row = demo.scalar(select(OutboxMessage).where(OutboxMessage.template == "payment_reference"))
    assert row is not None and row.recipient == YOUSSEF and reference in re.sub(r"\D", "", row.body)


def test_arabic_page_shows_the_arabic_screen_right_to_left(page: Page, server: Server) -> None:
    open_simulator(page, server, YOUSSEF)
    page.click("#lang-ar")
    assert page.get_attribute("html", "dir") == "rtl" and page.get_attribute("html", "lang") == "ar"
    arabic = Translator("ar")
    expect(page.locator("#dial")).to_have_text(arabic(CHROME["dial"]))
    expect(page.locator("#key-hangup")).to_have_text(arabic(CHROME["hang_up"]))
    menu = dial(page)
    assert ARABIC.search(menu), menu
    assert page.eval_on_selector("#screen-text", "node => getComputedStyle(node).direction") == "rtl"
    dues = reply_on_keypad(page, "2")
    assert ARABIC.search(dues) and "405.00 درهم" in dues, dues
    # Youssef's two actions on the first Arabic page (issue 12, point 3).
    assert arabic("1 Pay all due") in dues and arabic("2 Choose the months") in dues, dues
    screenshot(page, "simulator-ar-mid-session")
    page.reload()  # the choice of language stays
    assert page.get_attribute("html", "dir") == "rtl"


# Where each digit group of the reference is drawn, left to right, in the first SMS shown.
GROUP_POSITIONS = """([first, second, third]) => {
  const body = document.querySelector(".sms-item .sms-body");
  const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
  const lefts = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const group of [first, second, third]) {
      const at = node.data.indexOf(group);
      if (at < 0) continue;
      const range = document.createRange();
      range.setStart(node, at);
      range.setEnd(node, at + group.length);
      lefts.push([group, range.getBoundingClientRect().left]);
    }
  }
  return lefts;
}"""


def test_the_reference_reads_in_order_in_the_arabic_sms_panel(page: Page, server: Server, demo: Session) -> None:
    """Chromium lays the Arabic SMS out with the Unicode bidi algorithm: the reference's
    groups must stand left to right as written, as the artisan reads them to an agent."""
    open_simulator(page, server, YOUSSEF)
    page.click("#lang-ar")
    dial(page)
    reply_on_keypad(page, "2")
    reply_on_keypad(page, "1")
    reply_on_keypad(page, "1")
    screens = [reply_on_keypad(page, "1")]
    while state(page) == "active":
        screens.append(reply_on_keypad(page, "98"))
    found = REFERENCE.search("\n".join(screens))
    assert found, screens
    expect(page.locator(".sms-item .sms-body").first).to_contain_text(found.group(3))
    lefts = page.evaluate(GROUP_POSITIONS, list(found.groups()))
    assert [group for group, _left in lefts] == list(found.groups()), lefts
    assert [left for _group, left in lefts] == sorted(left for _group, left in lefts), lefts
    screenshot(page, "pay-reference-sms-ar")
    page.close()


def test_hang_up_mid_session_reports_an_incomplete_session(page: Page, server: Server, demo: Session) -> None:
    open_simulator(page, server, AICHA)  # Aicha reads French
    dial(page)
    dues = reply_on_keypad(page, "2")
    assert "mois" in dues, dues
    reply_on_keypad(page, "1")  # pay all due: now choosing a network
    assert page.get_attribute("html", "dir") == "ltr"
    screenshot(page, "simulator-fr-mid-session")
    page.keyboard.press("Escape")  # hang up
    expect(page.locator("#screen-text")).to_have_text(Translator("fr")(CHROME["hung_up"]))
    expect(page.locator("body")).to_have_attribute("data-last-event", re.compile(":Incomplete$"))
    session_id = (page.get_attribute("body", "data-last-event") or "").rsplit(":", 1)[0]
    page.close()
    with server.lock:
        outcome = demo.scalar(select(UssdSessionOutcome).where(UssdSessionOutcome.session_id == session_id))
    assert outcome is not None, session_id
    assert outcome.aggregator == "africastalking" and outcome.phone == AICHA
    assert outcome.status == "Incomplete" and outcome.hops_count == 3
    assert outcome.service_code == "*4242#" and outcome.network_code == "60401"
    assert outcome.last_screen is not None and outcome.duration_ms is not None


def test_another_number_and_a_dial_string_typed_on_the_keyboard(page: Page, server: Server) -> None:
    page.goto(server.url + "/simulator")
    page.fill("#phone-other", "06 00 00 00 03")  # Aicha's, typed as people write it
    expect(page.locator("#screen-phone")).to_have_text(AICHA)
    page.locator("h1").click()  # leave the field: the keys go to the phone again
    page.keyboard.type("*4242*2#")
    expect(page.locator("#screen-input")).to_have_text("*4242*2#")
    page.keyboard.press("Enter")
    assert "135,00 MAD" in answered(page)  # option 2 straight away, as AT sends `*4242*2#`
    page.keyboard.press("Escape")
    expect(page.locator("body")).to_have_attribute("data-last-event", re.compile(":Incomplete$"))


def test_an_answer_that_is_not_con_or_end_ends_the_session_as_failed(page: Page, server: Server, demo: Session) -> None:
    open_simulator(page, server, YOUSSEF)
    page.route(re.compile(r"/ussd/africastalking\?"), lambda route: route.fulfill(status=500, body="oops"))
    dial(page)
    expect(page.locator("#screen-text")).to_have_text(Translator("fr")(CHROME["network_error"]))
    expect(page.locator("body")).to_have_attribute("data-last-event", re.compile(":Failed$"))
    session_id = (page.get_attribute("body", "data-last-event") or "").rsplit(":", 1)[0]
    page.close()
    with server.lock:
        outcome = demo.scalar(select(UssdSessionOutcome).where(UssdSessionOutcome.session_id == session_id))
    assert outcome is not None and outcome.status == "Failed" and outcome.hops_count == 1
    assert outcome.error_message == "HTTP 500 oops"


# ---- voice mode ---------------------------------------------------------------------


def voice_call(page: Page, server: Server, phone: str) -> None:
    open_simulator(page, server, phone)
    page.check("#mode-voice")
    expect(page.locator("#dial")).to_have_text(Translator("fr")(CHROME["call"]))
    page.click("#dial")
    voice_reply(page, 1)


def voice_reply(page: Page, n: int) -> list[str]:
    """The texts of the `n`th reply of the call, once it has come (the transcript's last turn)."""
    expect(page.locator("body")).to_have_attribute("data-voice-replies", str(n))
    return page.eval_on_selector_all(
        "#transcript li",
        """items => {
          const turns = [];
          for (const item of items) {
            const text = item.querySelector(".text").textContent;
            if (item.classList.contains("turn")) turns.push([]);
            else if (item.classList.contains("prompt")) turns[turns.length - 1].push(text);
          }
          return turns[turns.length - 1];
        }""",
    )


def press_keys(page: Page, keys: str, reply: int) -> list[str]:
    for key in keys:
        page.click(f"#key-{ {'*': 'star', '#': 'hash'}.get(key, key) }")
    return voice_reply(page, reply)


def test_a_voice_call_in_darija_reaches_the_dues_amount(page: Page, server: Server, demo: Session) -> None:
    voice_call(page, server, YOUSSEF)
    assert "الدارجة" in voice_reply(page, 1)
    menu = press_keys(page, "1", 2)  # Darija
    assert all(ARABIC.search(text) for text in menu if text.strip()), menu
    dues = press_keys(page, "2", 3)  # pay
    assert " ".join(darija(405)) in "\n".join(dues), dues
    # The prompts play in Chromium, one after the other: the first ones have ended by now.
    expect(page.locator("#transcript li.prompt[data-played=true]").first).to_be_attached(timeout=20_000)
    assert page.get_attribute("#transcript li.prompt[data-key]", "lang") == "ary"
    screenshot(page, "simulator-voice-ary-dues")
    page.click("#key-hangup")
    expect(page.locator("body")).to_have_attribute("data-last-event", re.compile(":ended$"))
    session_id = (page.get_attribute("body", "data-last-event") or "").rsplit(":", 1)[0]
    page.close()
    with server.lock:
        outcome = demo.scalar(select(UssdSessionOutcome).where(UssdSessionOutcome.session_id == session_id))
    assert outcome is not None and (outcome.aggregator, outcome.language, outcome.status) == (
        "voice",
        "ary",
        "Incomplete",
    )
    assert outcome.last_screen == "pay" and outcome.phone == YOUSSEF


def test_a_voice_call_in_french_pays_to_a_reference(page: Page, server: Server, demo: Session) -> None:
    voice_call(page, server, YOUSSEF)
    press_keys(page, "2", 2)  # French
    press_keys(page, "2", 3)  # pay
    months = press_keys(page, "2", 4)  # choose the months: a number, then #
    assert page.locator("#transcript li.prompt").last.get_attribute("lang") == "fr", months
    press_keys(page, "3", 4)
    expect(page.locator("#screen-input")).to_have_text("3")  # kept until # (or the timeout)
    press_keys(page, "#", 5)  # three months: the networks
    press_keys(page, "1", 6)  # Wafacash: the confirmation
    said = press_keys(page, "1", 7)  # confirm: the reference
    reference = heard_reference("\n".join(said), "fr")
    assert reference is not None, said
    assert page.locator("#transcript li.caller").filter(has_text="3").count() == 1  # "You pressed 3"
    screenshot(page, "simulator-voice-fr-reference")
    page.close()
    with server.lock:
        issued = demo.scalar(select(PaymentReference).where(PaymentReference.reference == reference))
    assert issued is not None and (issued.month_count, issued.network) == (3, "wafacash")
