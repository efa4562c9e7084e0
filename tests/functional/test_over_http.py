"""The gateway under a real HTTP server, dialed as Africa's Talking does; hops of one
session landing on two app instances that share only Redis and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import db
from gateway.config import Settings
from models import UssdSessionOutcome
from tests.conftest import CALLBACK_KEY
from tests.helpers import Dialer

ROOT = Path(__file__).resolve().parents[2]


def http_post(base: str) -> Callable[[str, dict[str, str]], tuple[int, str]]:
    def post(path: str, form: dict[str, str]) -> tuple[int, str]:
        request = urllib.request.Request(
            base + path,
            data=urllib.parse.urlencode(form).encode(),
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "at-ussd-api/1.0"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.headers["Content-Type"].startswith("text/plain")
            return response.status, response.read().decode("utf-8")

    return post


def test_identification_over_real_http(server: str) -> None:
    phone = Dialer(http_post(server), "+212600000009", key=CALLBACK_KEY)
    phone.start()
    phone.send("6", "2", "1", "JB123456")
    linked = phone.send("1980")
    assert "Votre téléphone est maintenant lié à votre dossier." in linked
    assert phone.replay() == linked


def test_the_dial_command_reaches_the_status_over_http(server: str, settings: Settings, demo: Session) -> None:
    """`flask ussd dial --url`, as the README dials `make run`: another process, real HTTP."""
    environment = {
        **os.environ,
        "HIRFA_ENV": "development",
        "FLASK_SKIP_DOTENV": "1",
        # The command's own app (never used to answer: --url) reads the suite's settings.
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "REDIS_PREFIX": settings.redis_prefix,
        "SECRET_KEY": settings.secret_key,
        "USSD_CALLBACK_KEY": "not-the-servers-key-" + "x" * 16,  # --key is what the server sees
        "LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "ussd", "dial", "--url", server, "--key", CALLBACK_KEY]
    result = subprocess.run(
        [*command, "+212600000003", "1", "98"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "AMO : suspendue, 5 mois impayés" in result.stdout and "Hung up." in result.stdout
    outcome = demo.scalar(select(UssdSessionOutcome))
    assert outcome is not None and outcome.status == "Incomplete" and outcome.hops_count == 3


def test_hops_alternate_between_two_instances(make_app: Callable[..., Flask], demo: Session) -> None:
    first, second = make_app(), make_app()
    for instance in (first, second):
        instance.extensions[db.EXTENSION] = lambda: demo

    def alternating() -> Callable[[str, dict[str, str]], tuple[int, str]]:
        turn = iter(range(100))

        def post(path: str, form: dict[str, str]) -> tuple[int, str]:
            instance = (first, second)[next(turn) % 2]
            response = instance.test_client().post(path, data=form)
            return response.status_code, response.get_data(as_text=True)

        return post

    phone = Dialer(alternating(), "+212600000009", key=CALLBACK_KEY)
    phone.start()  # first
    phone.send("1")  # second
    phone.send("JB123456")  # first
    linked = phone.send("1980")  # second
    assert "تم ربط هاتفك بملفك." in linked and "مستفيد من التغطية" in linked  # the status leads
    assert "**0009" in phone.send("98")  # first
