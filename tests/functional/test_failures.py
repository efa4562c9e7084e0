"""Faults: Redis or PostgreSQL gone, internal errors. The aggregator always gets a 200
with a short END in the caller's language, never a trace or a 5xx."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import pytest
import redis
from flask import Flask
from sqlalchemy.orm import Session

from gateway.ussd.store import RedisSessionStore
from tests.conftest import CALLBACK_KEY
from tests.helpers import Dialer

FORM = {"serviceCode": "*4242#", "phoneNumber": "+212600000001", "networkCode": "60401", "text": ""}


def _post(app: Flask, session_id: str, text: str = "") -> tuple[int, str, float]:
    started = time.perf_counter()
    response = app.test_client().post(
        f"/ussd/africastalking?key={CALLBACK_KEY}", data={**FORM, "sessionId": session_id, "text": text}
    )
    return response.status_code, response.get_data(as_text=True), time.perf_counter() - started


def test_redis_down_answers_end_within_a_second(make_app: Callable[..., Flask]) -> None:
    # Nothing listens on port 1: the connection is refused, as when Redis is stopped.
    app = make_app(redis_url="redis://127.0.0.1:1/0")
    status, body, seconds = _post(app, "redis-down")
    assert status == 200
    assert body.startswith("END ")
    assert "الخدمة غير متوفرة" in body and "Service indisponible" in body  # language unknown: both
    assert seconds < 1.0
    assert app.test_client().get("/readyz").status_code == 503


def test_database_down_answers_end(make_app: Callable[..., Flask]) -> None:
    app = make_app(database_url="postgresql+psycopg://postgres@127.0.0.1:1/none")
    status, body, seconds = _post(app, "db-down")
    assert status == 200 and body.startswith("END ") and "Service indisponible" in body
    assert seconds < 3.0
    readiness = app.test_client().get("/readyz")
    assert readiness.status_code == 503 and readiness.get_json()["checks"]["database"] == "unavailable"


def test_failure_mid_session_answers_in_the_callers_language(
    dial: type[Dialer], app: Flask, db_session: Session
) -> None:
    phone = dial("+212600000003")  # French speaker
    phone.start()
    original = app.extensions["hirfa"]

    class BrokenRegistry(Exception):
        pass

    def broken_clock() -> None:
        raise BrokenRegistry("clock broke")

    app.extensions["hirfa"] = dataclasses.replace(original, clock=broken_clock)
    try:
        reply = phone.send("1")
    finally:
        app.extensions["hirfa"] = original
    assert reply == "END Service indisponible, réessayez plus tard."


def test_unhandled_error_elsewhere_is_json_without_trace(client: object) -> None:
    response = client.get("/no/such/page")  # type: ignore[attr-defined]
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_end_of_session_notification_with_database_down_is_503(make_app: Callable[..., Flask]) -> None:
    app = make_app(database_url="postgresql+psycopg://postgres@127.0.0.1:1/none")
    response = app.test_client().post(
        f"/ussd/africastalking/events?key={CALLBACK_KEY}",
        data={"sessionId": "ev-db-down", "phoneNumber": "+212600000001", "status": "Success"},
    )
    assert response.status_code == 503
    assert "Traceback" not in response.get_data(as_text=True)


def test_after_redis_fails_the_session_store_fails_fast_for_a_second() -> None:
    # A hung Redis costs each hop its socket timeout; with one thread per worker, hops
    # would queue behind each other's timeouts. The drills measure it (redis-freeze).
    store = RedisSessionStore(
        redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2), prefix="x:", ttl_seconds=300
    )
    with pytest.raises(redis.ConnectionError) as first:
        store.load("africastalking", "s1", "+212600000001")
    assert "less than a second ago" not in str(first.value)  # this one tried Redis
    with pytest.raises(redis.ConnectionError, match="less than a second ago"):
        store.load("africastalking", "s2", "+212600000001")
    store._failing_until = 0.0  # the second has passed
    with pytest.raises(redis.ConnectionError) as again:
        store.load("africastalking", "s3", "+212600000001")
    assert "less than a second ago" not in str(again.value)
