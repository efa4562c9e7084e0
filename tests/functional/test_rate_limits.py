"""Rate limits on Redis, answered in each caller's format: an END screen per phone on
USSD, 429 JSON per address and per key on the partner API, 429 per address on the
aggregator's other callbacks."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import redis
from flask import Flask
from sqlalchemy.orm import Session

from gateway import db
from gateway.ops.staff import create_staff
from gateway.ratelimit import Limit, RateLimiter
from gateway.wiring import EXTENSION
from tests.conftest import CALLBACK_KEY, REDIS_URL
from tests.functional.test_ops_dashboard import PASSWORD, csrf
from tests.functional.test_partner_api import error_of, partner_for
from tests.helpers import Dialer, FrozenClock

AICHA, FATIMA = "+212600000003", "+212600000001"


def limited_app(make_app: Callable[..., Flask], demo: Session, clock: FrozenClock, **limits: int) -> Flask:
    app = make_app(**limits)
    app.extensions[db.EXTENSION] = lambda: demo
    app.extensions[EXTENSION] = dataclasses.replace(app.extensions[EXTENSION], clock=clock)
    return app


def dialer(app: Flask, phone: str) -> Dialer:
    def post(url: str, form: dict[str, str]) -> tuple[int, str]:
        response = app.test_client().post(url, data=form)
        return response.status_code, response.get_data(as_text=True)

    return Dialer(post, phone, key=CALLBACK_KEY)


def test_a_phone_over_its_hops_per_minute_gets_an_end_and_loses_nothing(
    make_app: Callable[..., Flask], demo: Session, clock: FrozenClock
) -> None:
    app = limited_app(make_app, demo, clock, ussd_hops_per_phone_per_minute=3)
    phone = dialer(app, AICHA)
    phone.start()
    status_screen = phone.send("1")
    assert "1 Mon inscription" in phone.send("0")
    refused = phone.send("1")  # the fourth hop this minute
    assert refused.startswith("END ") and "Trop de demandes." in refused and "طلبات كثيرة." in refused
    assert dialer(app, FATIMA).start().startswith("CON ")  # other phones are not affected
    # The next minute, the same hop runs as if the refused one never came.
    client = redis.Redis.from_url(REDIS_URL)
    prefix = app.extensions[EXTENSION].settings.redis_prefix
    for key in client.scan_iter(match=f"{prefix}rl:ussd-phone:{AICHA}:*"):
        client.delete(key)
    assert phone.replay() == status_screen


def test_aggregator_reports_over_the_limit_per_address_get_429(
    make_app: Callable[..., Flask], demo: Session, clock: FrozenClock
) -> None:
    app = limited_app(make_app, demo, clock, callbacks_per_ip_per_minute=2)
    phone = dialer(app, AICHA)
    phone.start()
    assert phone.hang_up() == 200
    assert phone.hang_up() == 200
    response = app.test_client().post(f"/ussd/africastalking/events?key={CALLBACK_KEY}", data={"sessionId": "x"})
    assert response.status_code == 429 and 0 < int(response.headers["Retry-After"]) <= 60
    assert response.get_data(as_text=True).startswith("END ")
    report = app.test_client().post(
        f"/sms/africastalking/delivery-reports?key={CALLBACK_KEY}", data={"id": "x", "status": "Success"}
    )
    assert report.status_code == 429 and "Retry-After" in report.headers
    # Hops are counted per phone, not per address: the aggregator's hops go on.
    assert phone.send("1").startswith("CON ")


def test_the_partner_api_limits_each_key_and_each_address(
    make_app: Callable[..., Flask], demo: Session, clock: FrozenClock
) -> None:
    app = limited_app(make_app, demo, clock, api_requests_per_key_per_minute=2, api_requests_per_ip_per_minute=4)
    settings = app.extensions[EXTENSION].settings
    client = app.test_client()
    wafacash = partner_for(client, demo, settings, clock, "wafacash counters", "wafacash")
    fellah = partner_for(client, demo, settings, clock, "fellah cash counters", "fellah_cash")
    for _ in range(2):
        clock.advance(seconds=1)  # each request signed anew
        assert wafacash.get("/api/v1/references/0000000000").status_code in {404, 422}
    clock.advance(seconds=1)
    refused = wafacash.get("/api/v1/references/0000000000")
    assert refused.status_code == 429 and error_of(refused) == "rate_limited"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert fellah.get("/api/v1/references/0000000000").status_code in {404, 422}  # its own allowance
    # Per address, before any signature is checked: the fifth request of this address.
    unsigned = client.get("/api/v1/references/0000000000")
    assert unsigned.status_code == 429 and error_of(unsigned) == "rate_limited"


def test_a_limit_that_cannot_be_checked_lets_the_request_through() -> None:
    down = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    assert RateLimiter(down, prefix="x:").exceeded("scope", "who", Limit(1)) is None


def test_fixed_window_counts_then_refuses(redis_prefix: str) -> None:
    limiter = RateLimiter(redis.Redis.from_url(REDIS_URL), prefix=redis_prefix)
    results = [limiter.exceeded("unit", "someone", Limit(3)) for _ in range(5)]
    assert results[:3] == [None, None, None]
    assert all(wait is not None and 0 < wait <= 60 for wait in results[3:])
    assert limiter.exceeded("unit", "someone else", Limit(3)) is None
    assert limiter.exceeded("unit", "someone", Limit(0)) is None  # 0: off


def test_logins_per_address_are_limited_before_any_password_is_checked(
    make_app: Callable[..., Flask], demo: Session, clock: FrozenClock
) -> None:
    app = limited_app(make_app, demo, clock, logins_per_ip_per_minute=3)
    create_staff(demo, username="samira", password=PASSWORD, clock=clock)
    demo.commit()
    client = app.test_client()
    for guess in ("guess one", "guess two", "guess three"):
        token = csrf(client.get("/ops/login").get_data(as_text=True))
        form = {"username": "samira", "password": guess, "csrf_token": token}
        assert client.post("/ops/login", data=form).status_code == 401
    token = csrf(client.get("/ops/login").get_data(as_text=True))
    form = {"username": "samira", "password": PASSWORD, "csrf_token": token}
    refused = client.post("/ops/login", data=form)  # even the right password, this minute
    assert refused.status_code == 429 and "Attendez une minute" in refused.get_data(as_text=True)
    assert client.get("/ops/").status_code == 302
