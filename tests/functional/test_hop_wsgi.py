"""The hop's lean WSGI path in front of Flask (gateway/web/hop_wsgi.py): every request to
the app goes through it (the other USSD tests use it too), hops are answered there with
Flask's guarantees, and everything else still reaches Flask."""

from __future__ import annotations

import dataclasses
import io
import logging
import urllib.request
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from gateway.web.hop_wsgi import HopDispatcher
from tests.conftest import CALLBACK_KEY

URL = f"/ussd/africastalking?key={CALLBACK_KEY}"
FORM = {"sessionId": "ATUid_lean", "serviceCode": "*4242#", "phoneNumber": "+212600000001", "text": ""}


def test_every_request_of_the_app_goes_through_the_dispatcher(app: Flask) -> None:
    assert isinstance(app.wsgi_app, HopDispatcher)


def test_a_hop_is_answered_as_plain_text_with_its_length(client: FlaskClient, demo: Session) -> None:
    response = client.post(URL, data=FORM)
    assert response.status_code == 200
    assert response.content_type == "text/plain; charset=utf-8"
    body = response.get_data()
    assert body.startswith(b"CON ") and response.content_length == len(body)
    assert "Set-Cookie" not in response.headers  # nothing of Flask's session


def test_a_multipart_form_gets_the_same_screen(client: FlaskClient, demo: Session) -> None:
    plain = client.post(URL, data={**FORM, "sessionId": "ATUid_plain"}).get_data(as_text=True)
    multipart = client.post(URL, data={**FORM, "sessionId": "ATUid_multi"}, content_type="multipart/form-data")
    assert multipart.status_code == 200 and multipart.get_data(as_text=True) == plain


def test_the_first_value_of_a_repeated_field_counts_as_in_flask(client: FlaskClient, demo: Session) -> None:
    body = "sessionId=ATUid_twice&serviceCode=%2A4242%23&phoneNumber=%2B212600000001&text=&text=1"
    response = client.post(URL, data=body, content_type="application/x-www-form-urlencoded")
    first = client.post(URL, data={**FORM, "sessionId": "ATUid_once"})
    assert response.get_data(as_text=True) == first.get_data(as_text=True)  # the main menu: text ""


def _call(app: Flask, environ: dict[str, Any]) -> tuple[str, bytes]:
    status: list[str] = []
    base = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/ussd/africastalking",
        "QUERY_STRING": f"key={CALLBACK_KEY}",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
    }
    chunks = app.wsgi_app({**base, **environ}, lambda line, headers, exc=None: status.append(line))
    return status[0], b"".join(chunks)


def test_a_chunked_body_over_the_cap_is_refused_unread(app: Flask) -> None:
    big = b"text=" + b"1" * (64 * 1024)
    status, body = _call(
        app,
        {
            "CONTENT_TYPE": "application/x-www-form-urlencoded",
            "wsgi.input": io.BytesIO(big),
            "wsgi.input_terminated": True,  # no Content-Length: read to the cap and one byte
        },
    )
    assert status.startswith("413") and body.startswith(b"END ")


def test_a_body_that_is_not_utf8_is_an_invalid_request(app: Flask) -> None:
    raw = b"sessionId=\xff\xfe&text="
    status, body = _call(
        app,
        {
            "CONTENT_TYPE": "application/x-www-form-urlencoded",
            "CONTENT_LENGTH": str(len(raw)),
            "wsgi.input": io.BytesIO(raw),
        },
    )
    assert status.startswith("400") and body.startswith(b"END ")


def test_unknown_aggregators_and_wrong_keys_get_a_last_screen(client: FlaskClient) -> None:
    unknown = client.post(f"/ussd/nosuch?key={CALLBACK_KEY}", data=FORM)
    smpp = client.post(f"/ussd/smpp?key={CALLBACK_KEY}", data=FORM)  # over SMPP only
    wrong = client.post("/ussd/africastalking?key=wrong", data=FORM)
    assert [r.status_code for r in (unknown, smpp, wrong)] == [404, 404, 403]
    assert all(r.get_data(as_text=True).startswith("END ") for r in (unknown, smpp, wrong))


def test_a_failure_before_the_menus_is_a_polite_end_never_a_5xx(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    original = app.extensions["hirfa"]
    # Settings that break the callback check itself (a bug, a bad deploy): no key list.
    app.extensions["hirfa"] = dataclasses.replace(
        original, settings=dataclasses.replace(original.settings, ussd_callback_key=None)
    )
    try:
        with caplog.at_level(logging.ERROR, logger="gateway.web.hop_wsgi"):
            response = client.post(URL, data={**FORM, "phoneNumber": "+212600000001"})
    finally:
        app.extensions["hirfa"] = original
    assert response.status_code == 200 and response.get_data(as_text=True).startswith("END ")
    record = next(r for r in caplog.records if r.getMessage() == "hop failed before the menus")
    assert "+212600000001" not in str(record.__dict__)  # nothing the caller sent, in the log


def test_other_paths_and_methods_still_reach_flask(client: FlaskClient) -> None:
    assert client.get("/ussd/africastalking").status_code in {404, 405}
    assert client.get("/healthz").status_code == 200
    missing = client.post(f"/ussd/africastalking/nope/deeper?key={CALLBACK_KEY}", data=FORM)
    assert missing.status_code == 404 and missing.is_json  # Flask's JSON 404, not a hop


def test_a_hop_over_a_real_socket(server: str) -> None:
    data = urllib.parse.urlencode({**FORM, "sessionId": "ATUid_socket"}).encode()
    with urllib.request.urlopen(server + URL, data=data, timeout=5) as response:
        assert response.status == 200 and response.read().startswith(b"CON ")
