"""Session resume: a session cut off inside a task, after a choice worth keeping, can be
taken up by the next dial from the same phone, within RESUME_WINDOW_SECONDS; never after
a menu or an information screen, never into a PIN, past a money step, or across phones."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import redis
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway import db
from models import PaymentReference
from tests.conftest import CALLBACK_KEY, REDIS_URL
from tests.helpers import Dialer

FATIMA, YOUSSEF, AICHA, UNLINKED = "+212600000001", "+212600000002", "+212600000003", "+212600000009"
WAFACASH_AGENT = "+212700000001"
OFFER_AR = "1 المتابعة من حيث توقفت"
OFFER_FR = "1 Continuer où vous étiez"


def resume_key(app: Flask, phone: str) -> str:
    store = app.extensions["hirfa"].session_store
    return str(store.resume_key("africastalking", phone))


def test_a_payment_cut_off_at_the_network_choice_is_resumed(dial: type[Dialer], demo: Session) -> None:
    first = dial(YOUSSEF)
    first.start()
    where = first.send("2", "1")  # pay all due: which network?
    assert first.hang_up() == 200
    again = dial(YOUSSEF)
    offer = again.start()
    assert offer.startswith("CON ") and OFFER_AR in offer
    assert again.send("1") == where  # the same screen, as it was left
    again.send("1")  # Wafacash
    issued = again.send("1")  # confirm
    assert re.search(r"\d{3}-\d{3}-\d{4}", issued), issued
    assert demo.scalar(select(func.count()).select_from(PaymentReference)) == 1
    again.send("98")  # the reference's last page: END
    # Finished: the next dial starts at the main menu.
    after = dial(YOUSSEF)
    assert OFFER_AR not in after.start()


def test_main_menu_instead_forgets_the_cut_off_session(dial: type[Dialer]) -> None:
    first = dial(AICHA)
    first.start()
    first.send("4", "1")  # French: a region chosen, its provinces
    first.hang_up()
    second = dial(AICHA)
    assert OFFER_FR in second.start()
    menu = second.send("2")
    assert "1 Mon inscription" in menu and "Continuer" not in menu
    second.hang_up()  # at the main menu: nothing to resume
    third = dial(AICHA)
    assert "1 Mon inscription" in third.start()


def test_back_from_the_offer_is_the_main_menu_too(dial: type[Dialer]) -> None:
    first = dial(AICHA)
    first.start()
    first.send("4", "1")
    second = dial(AICHA)
    assert OFFER_FR in second.start()
    assert "1 Mon inscription" in second.send("0")


def test_never_across_phones(dial: type[Dialer], app: Flask) -> None:
    first = dial(YOUSSEF)
    first.start()
    first.send("2", "1")
    first.hang_up()
    other = dial(AICHA)
    assert OFFER_FR not in other.start()
    # The same session id from another phone gets a session of its own.
    stolen = dial(AICHA)
    stolen.session_id = first.session_id
    assert "1 Mon inscription" in stolen.start()
    assert redis.Redis.from_url(REDIS_URL).exists(resume_key(app, YOUSSEF)) == 1


def test_never_into_identification(dial: type[Dialer], app: Flask) -> None:
    first = dial(UNLINKED)
    first.start()
    first.send("1", "JB123456")  # the CIN is typed: year of birth next
    first.hang_up()
    assert redis.Redis.from_url(REDIS_URL).exists(resume_key(app, UNLINKED)) == 0
    assert OFFER_AR not in dial(UNLINKED).start()


def test_never_past_a_reference_issued(dial: type[Dialer], app: Flask) -> None:
    first = dial(YOUSSEF)
    first.start()
    shown = first.send("2", "1", "1", "1")
    assert shown.startswith("CON ")  # the reference screen has a second page, never read
    first.hang_up()
    assert redis.Redis.from_url(REDIS_URL).exists(resume_key(app, YOUSSEF)) == 0
    assert OFFER_AR not in dial(YOUSSEF).start()


def test_an_agent_session_is_never_resumed(dial: type[Dialer], app: Flask) -> None:
    agent = dial(WAFACASH_AGENT)
    agent.start()
    agent.send("1234", "2")  # PIN, then "check a reference"
    agent.hang_up()
    assert redis.Redis.from_url(REDIS_URL).exists(resume_key(app, WAFACASH_AGENT)) == 0
    again = dial(WAFACASH_AGENT)
    assert "القن السري" in again.start()  # the PIN first, as always


def test_an_unlinked_phone_resumes_the_cash_point_directory(dial: type[Dialer]) -> None:
    first = dial(UNLINKED)
    first.start()
    regions = first.send("4", "1")  # a region chosen: its provinces
    first.hang_up("Failed")
    again = dial(UNLINKED)
    assert OFFER_AR in again.start()
    assert again.send("1") == regions


def test_the_window_runs_from_the_last_hop_and_again_from_the_cut_off_report(dial: type[Dialer], app: Flask) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    first = dial(AICHA)
    first.start()
    first.send("4", "1")
    key = resume_key(app, AICHA)
    assert 110 < client.ttl(key) <= 120
    client.expire(key, 5)
    first.hang_up("Success")  # not a cut-off: nothing renewed
    assert client.ttl(key) <= 5
    first.hang_up("Incomplete")
    assert 110 < client.ttl(key) <= 120
    client.delete(key)  # the window has passed
    assert "1 Mon inscription" in dial(AICHA).start()


def test_a_late_report_of_an_older_session_renews_nothing(dial: type[Dialer], app: Flask) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    old = dial(AICHA)
    old.start()
    old.send("4", "1")
    newer = dial(AICHA)
    newer.start()
    newer.send("2", "4", "1")  # main menu, then a region again
    key = resume_key(app, AICHA)
    client.expire(key, 5)
    old.hang_up()
    assert client.ttl(key) <= 5


def test_a_dial_string_with_answers_skips_the_offer(dial: type[Dialer]) -> None:
    first = dial(AICHA)
    first.start()
    first.send("4", "1")
    first.hang_up()
    direct = dial(AICHA)
    direct.typed = ["6"]  # *4242*6#: the language menu at once
    assert "Français" in direct.start()


def test_a_resume_point_of_another_artisan_is_ignored(dial: type[Dialer], app: Flask) -> None:
    first = dial(AICHA)
    first.start()
    first.send("4", "1")
    client = redis.Redis.from_url(REDIS_URL)
    key = resume_key(app, AICHA)
    point = client.get(key)
    assert point is not None
    client.set(key, point.replace(b'"aid":', b'"aid":1000000,"x":'), ex=60)  # relinked meanwhile
    assert "1 Mon inscription" in dial(AICHA).start()


def test_resume_can_be_switched_off(make_app: Callable[..., Flask], demo: Session) -> None:
    app = make_app(resume_window_seconds=0)
    app.extensions[db.EXTENSION] = lambda: demo

    def post(url: str, form: dict[str, str]) -> tuple[int, str]:
        response = app.test_client().post(url, data=form)
        return response.status_code, response.get_data(as_text=True)

    first = Dialer(post, AICHA, key=CALLBACK_KEY)
    first.start()
    first.send("4", "1")
    first.hang_up()
    assert redis.Redis.from_url(REDIS_URL).exists(resume_key(app, AICHA)) == 0
    assert "1 Mon inscription" in Dialer(post, AICHA, key=CALLBACK_KEY).start()


def test_a_status_check_then_hanging_up_dials_straight_to_the_main_menu(dial: type[Dialer], app: Flask) -> None:
    first = dial(YOUSSEF)
    first.start()
    first.send("1")  # the status: an information screen
    first.hang_up()
    assert redis.Redis.from_url(REDIS_URL).exists(resume_key(app, YOUSSEF)) == 0
    again = dial(YOUSSEF).start()
    assert OFFER_AR not in again and "1 تسجيلي" in again


@pytest.mark.parametrize(
    ("phone", "answers"),
    [
        (YOUSSEF, ["2"]),  # the dues: a menu
        (YOUSSEF, ["2", "2"]),  # "how many months?": nothing chosen yet
        (YOUSSEF, ["5"]),  # help and services: a menu
        (YOUSSEF, ["6"]),  # language: a menu
        (FATIMA, ["3"]),  # the claims: a list to read
        (FATIMA, ["3", "1"]),  # one claim: information
        (AICHA, ["4"]),  # the regions: nothing chosen yet
    ],
)
def test_never_after_a_menu_or_an_information_screen(
    dial: type[Dialer], app: Flask, phone: str, answers: list[str]
) -> None:
    first = dial(phone)
    first.start()
    first.send(*answers)
    first.hang_up()
    assert redis.Redis.from_url(REDIS_URL).exists(resume_key(app, phone)) == 0
    again = dial(phone).start()
    assert OFFER_AR not in again and OFFER_FR not in again


@pytest.mark.parametrize(
    "answers",
    [
        ["2", "1"],  # all due chosen: the network next (2 answers to redo)
        ["2", "2", "3"],  # 3 months chosen (3 answers)
        ["2", "1", "1"],  # and a network (3 answers)
        ["4", "1"],  # a region chosen (2 answers)
        ["4", "1", "1"],  # a region and a province chosen (3 answers)
    ],
)
def test_a_choice_inside_a_task_is_resumed_where_it_stood(dial: type[Dialer], answers: list[str]) -> None:
    first = dial(YOUSSEF)
    first.start()
    where = first.send(*answers)
    first.hang_up()
    again = dial(YOUSSEF)
    assert OFFER_AR in again.start()
    assert again.send("1") == where  # one answer instead of len(answers)
