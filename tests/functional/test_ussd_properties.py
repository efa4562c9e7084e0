"""Property tests: whatever reaches the USSD endpoint, the answer is a screen (`CON`/`END`)
within its budget, and never a 5xx. Random, long, unicode, `*`-heavy and malformed
requests, and random walks through the menus from every kind of caller."""

from __future__ import annotations

import uuid

from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from tests.conftest import CALLBACK_KEY
from tests.helpers import AT_BUDGET

URL = f"/ussd/africastalking?key={CALLBACK_KEY}"
DEMO_PHONES = ["+212600000001", "+212600000002", "+212600000003", "+212600000009", "+212700000001"]
# Fixtures are shared by the examples on purpose: the demo data is what they dial into,
# and everything they write is rolled back after the test.
PROPERTY = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

answers = st.one_of(
    st.sampled_from(["0", "00", "98", "1", "2", "3", "4", "5", "6", "7", "9", "12", "1234", "JB123456", "1980"]),
    st.text(alphabet="0123456789*#", max_size=12),
    st.text(max_size=40),
)
phones = st.one_of(
    st.sampled_from(DEMO_PHONES),
    st.from_regex(r"\+2126[0-9]{8}", fullmatch=True),
    st.from_regex(r"\+[0-9]{6,15}", fullmatch=True),
    st.text(max_size=20),
)
texts = st.one_of(
    st.lists(answers, max_size=8).map("*".join),
    st.text(alphabet="*", max_size=300),
    st.text(max_size=1200),
    st.text(alphabet="0123456789*", min_size=900, max_size=1100),
)
fields = {
    "sessionId": st.one_of(st.uuids().map(lambda u: f"ATUid_{u.hex}"), st.text(max_size=200)),
    "serviceCode": st.one_of(st.just("*4242#"), st.text(alphabet="*#0123456789", max_size=40), st.text(max_size=10)),
    "phoneNumber": phones,
    "networkCode": st.one_of(st.sampled_from(["60400", "60401", "60402", ""]), st.text(max_size=20)),
    "text": texts,
}
forms = st.fixed_dictionaries({}, optional=fields)  # any field may be missing


def assert_is_a_screen(status: int, body: str) -> None:
    assert status < 500, (status, body)
    assert body.startswith(("CON ", "END ")), (status, body)
    assert AT_BUDGET.fits(body[4:]), f"over budget ({AT_BUDGET.length(body[4:])}): {body!r}"
    if status != 200:
        assert body.startswith("END ") and status in {400, 403, 404, 413}, (status, body)


@PROPERTY
@given(form=forms)
def test_any_request_gets_a_screen_within_budget(client: FlaskClient, demo: Session, form: dict[str, str]) -> None:
    response = client.post(URL, data=form)
    assert_is_a_screen(response.status_code, response.get_data(as_text=True))


@PROPERTY
@given(phone=st.sampled_from(DEMO_PHONES), inputs=st.lists(answers, min_size=1, max_size=12))
def test_random_walks_through_the_menus(client: FlaskClient, demo: Session, phone: str, inputs: list[str]) -> None:
    session_id = "ATUid_" + uuid.uuid4().hex
    typed: list[str] = []
    for answer in ["", *inputs]:
        if answer:
            typed.append(answer)
        form = {"sessionId": session_id, "serviceCode": "*4242#", "phoneNumber": phone, "text": "*".join(typed)}
        response = client.post(URL, data=form)
        body = response.get_data(as_text=True)
        assert_is_a_screen(response.status_code, body)
        if body.startswith("END "):
            break


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.integers(min_value=64 * 1024 + 1, max_value=256 * 1024))
def test_oversized_bodies_are_refused_before_parsing(client: FlaskClient, size: int) -> None:
    response = client.post(
        URL, data=b"text=" + b"1" * size, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert_is_a_screen(response.status_code, response.get_data(as_text=True))
    assert response.status_code == 413
