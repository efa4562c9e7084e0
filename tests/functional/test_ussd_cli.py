"""`flask ussd dial`: a USSD session in the terminal, in-process or against a running gateway."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import HelpRequest, UssdSessionOutcome
from tests.conftest import CALLBACK_KEY


def dial(app: Flask, *args: str, answers: list[str]) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["ussd", "dial", *args], input="".join(a + "\n" for a in answers))
    return result.exit_code, result.output


def test_in_process_session_to_a_call_back_request(app: Flask, demo: Session) -> None:
    code, output = dial(app, "0600000003", answers=["5", "1"])  # national form: +212600000003
    assert code == 0, output
    assert "1 Mon inscription" in output and "Dar Al Moukawil" in output
    assert output.rstrip().endswith("+")  # the END screen, framed; no prompt after it
    assert demo.scalar(select(HelpRequest.kind)) == "advisor_callback"
    outcome = demo.scalar(select(UssdSessionOutcome))
    assert outcome is not None and outcome.status == "Success" and outcome.phone == "+212600000003"
    assert outcome.hops_count == 3 and outcome.last_screen == "help_done"


def test_hanging_up_is_reported_incomplete_and_can_be_resumed(app: Flask, demo: Session) -> None:
    code, output = dial(app, "+212600000003", answers=["4", "1"])  # a region, then end of input: Ctrl-D
    assert code == 0 and "Hung up." in output
    assert demo.scalar(select(UssdSessionOutcome.status)) == "Incomplete"
    code, output = dial(app, "+212600000003", answers=["1"])
    assert "1 Continuer où vous étiez" in output and "Tanger" in output.split("1 Continuer")[1]


def test_answers_on_the_command_line_are_sent_in_turn_then_it_hangs_up(app: Flask, demo: Session) -> None:
    # Nothing is read from the terminal: the "5" typed there is never sent.
    code, output = dial(app, "+212600000003", "1", "98", answers=["5"])
    assert code == 0, output
    assert output.index("1 Mon inscription") < output.index("> 1") < output.index("AMO : suspendue")
    assert output.index("AMO : suspendue") < output.index("> 98") < output.rindex("+") < output.index("Hung up.")
    assert "Dar Al Moukawil" not in output
    outcome = demo.scalar(select(UssdSessionOutcome))
    assert outcome is not None and outcome.status == "Incomplete"
    assert outcome.hops_count == 3 and outcome.last_screen == "status"


def test_answers_that_reach_an_end_screen_end_the_session(app: Flask, demo: Session) -> None:
    code, output = dial(app, "+212600000003", "5", "1", answers=[])
    assert code == 0, output
    assert "Dar Al Moukawil" in output and "Hung up." not in output
    assert demo.scalar(select(UssdSessionOutcome.status)) == "Success"


def test_answers_left_after_the_end_screen_are_reported(app: Flask, demo: Session) -> None:
    code, output = dial(app, "+212600000003", "5", "1", "98", answers=[])
    assert code == 0 and "The session ended; not sent: 98" in output
    assert demo.scalar(select(HelpRequest.kind)) == "advisor_callback"


def test_a_bad_phone_number_is_refused_before_dialing(app: Flask) -> None:
    code, output = dial(app, "12345", answers=[])
    assert code == 2 and "not a valid phone number" in output


def test_a_wrong_key_shows_the_refusal_and_fails(app: Flask, demo: Session) -> None:
    code, output = dial(app, "+212600000003", "--key", "wrong", answers=[])
    assert code == 1 and "HTTP 403" in output


def test_against_a_running_gateway(app: Flask, server: str, demo: Session) -> None:
    code, output = dial(app, "+212600000001", "--url", server, answers=["1"])
    assert code == 0, output
    assert "التأمين: مستفيد من التغطية" in output  # her status screen (AMO covered), in Arabic
    assert demo.scalar(select(UssdSessionOutcome.status)) == "Incomplete"


def test_answers_to_a_running_gateway_with_its_key(app: Flask, server: str, demo: Session) -> None:
    code, output = dial(app, "+212600000003", "--url", server, "--key", CALLBACK_KEY, "1", "98", answers=[])
    assert code == 0, output
    assert "AMO : suspendue, 5 mois impayés" in output and "Hung up." in output
    code, output = dial(app, "+212600000003", "--url", server, "--key", "wrong", "1", answers=[])
    assert code == 1 and "HTTP 403" in output


def test_an_unreachable_gateway_is_a_clear_error(app: Flask) -> None:
    code, output = dial(app, "+212600000001", "--url", "http://127.0.0.1:9", answers=[])
    assert code == 1 and "cannot reach http://127.0.0.1:9" in output
