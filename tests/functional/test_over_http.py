"""The gateway under a real HTTP server, dialed as Africa's Talking does; hops of one
session landing on two app instances that share only Redis and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from gateway import db
from tests.conftest import CALLBACK_KEY
from tests.helpers import Dialer

AT_DIAL = Path(__file__).resolve().parents[3] / "shared" / "tools" / "at_dial.py"


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


@pytest.mark.skipif(not AT_DIAL.exists(), reason="shared/tools/at_dial.py is not beside the checkout")
def test_the_shared_at_dial_tool_reaches_the_status(server: str) -> None:
    url = f"{server}/ussd/africastalking?key={CALLBACK_KEY}"
    result = subprocess.run(
        [
            sys.executable,
            str(AT_DIAL),
            url,
            "+212600000003",
            "1",
            "--events",
            f"{server}/ussd/africastalking/events?key={CALLBACK_KEY}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "AMO : suspendue, 5 mois impayés" in result.stdout


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
    assert "تم ربط هاتفك بملفك." in phone.send("1980")  # second
    assert "مستفيد من التغطية" in phone.send("98")  # first
