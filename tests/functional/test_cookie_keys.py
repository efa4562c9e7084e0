"""The /ops session cookie is signed with a key derived from SECRET_KEY, never with
SECRET_KEY itself nor with the secret the repository ships; a previous SECRET_KEY in
SECRET_KEY_FALLBACKS keeps sessions open through a rotation."""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from gateway import db, keyring
from gateway.config import DEVELOPMENT_SECRET_KEY, Settings
from gateway.ops.staff import create_staff
from gateway.wiring import EXTENSION
from tests.helpers import FrozenClock

PASSWORD = "correct horse battery"
COOKIE = "session"


def sign(payload: dict[str, Any], key: str | bytes) -> str:
    """A session cookie as Flask would sign it with `key` (what a forger with the key does)."""
    forger = Flask("forger")
    forger.secret_key = key
    serializer = SecureCookieSessionInterface().get_signing_serializer(forger)
    assert serializer is not None
    return serializer.dumps(payload)


def read(app: Flask, cookie: str) -> dict[str, Any]:
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    assert serializer is not None
    payload: dict[str, Any] = serializer.loads(cookie)
    return payload


def log_in(client: FlaskClient) -> str:
    """Log in as samira through the form; returns the session cookie the app set."""
    page = client.get("/ops/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    response = client.post("/ops/login", data={"username": "samira", "password": PASSWORD, "csrf_token": token[1]})
    assert response.status_code == 303
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    return cookie.value


def dashboard_status(app: Flask, cookie: str) -> int:
    client = app.test_client()
    client.set_cookie(COOKIE, cookie)
    return client.get("/ops/").status_code


@pytest.fixture
def staff(db_session: Session, clock: FrozenClock) -> None:
    create_staff(db_session, username="samira", password=PASSWORD, clock=clock)
    db_session.commit()


def on_test_session(app: Flask, db_session: Session, clock: FrozenClock) -> Flask:
    """Another app on the test's rolled-back transaction (where the staff row is) and clock."""
    app.extensions[db.EXTENSION] = lambda: db_session
    app.extensions[EXTENSION] = dataclasses.replace(app.extensions[EXTENSION], clock=clock)
    return app


def test_forged_cookies_do_not_open_the_dashboard(
    app: Flask, settings: Settings, client: FlaskClient, staff: None, make_app: Callable[..., Flask]
) -> None:
    payload = read(app, log_in(client))  # a real session's content: only the signature is forged
    assert dashboard_status(app, sign(payload, keyring.cookie_key(settings))) == 200  # the control
    # SECRET_KEY itself, as Flask used it before keys were derived, is not the cookie key.
    assert dashboard_status(app, sign(payload, settings.secret_key)) == 302
    # Nor is the development secret the repository ships, raw or derived.
    assert dashboard_status(app, sign(payload, DEVELOPMENT_SECRET_KEY)) == 302
    shipped = Settings(secret_key=DEVELOPMENT_SECRET_KEY)
    assert dashboard_status(app, sign(payload, keyring.cookie_key(shipped))) == 302


def test_sessions_survive_a_secret_key_rotation_while_the_old_one_is_a_fallback(
    app: Flask,
    settings: Settings,
    client: FlaskClient,
    staff: None,
    db_session: Session,
    clock: FrozenClock,
    make_app: Callable[..., Flask],
) -> None:
    old_cookie = log_in(client)
    new_secret = secrets.token_hex(32)
    rotating = on_test_session(
        make_app(secret_key=new_secret, secret_key_fallbacks=(settings.secret_key,)), db_session, clock
    )
    assert dashboard_status(rotating, old_cookie) == 200
    # Flask signs new cookies with SECRET_KEY only: the new secret's key.
    assert rotating.config["SECRET_KEY"] == keyring.derive(new_secret, keyring.COOKIES)
    assert rotating.config["SECRET_KEY_FALLBACKS"] == [keyring.cookie_key(settings)]
    # Once the old secret leaves the fallbacks, its cookies are refused.
    rotated = on_test_session(make_app(secret_key=new_secret), db_session, clock)
    assert dashboard_status(rotated, old_cookie) == 302
