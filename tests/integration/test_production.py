"""Production settings refuse demo data and embedded stand-ins at start; /metrics is closed
in production (a bearer token or an allowed address)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, delete, update
from sqlalchemy.orm import Session as OrmSession

from gateway import create_app
from gateway.config import Settings, SettingsError
from gateway.demo import DEMO_AGENTS, DEMO_STAFF, load_demo, load_demo_staff
from gateway.partners.keys import create_demo_keys
from gateway.registration.chambers import demo_chambers, upsert_chamber
from models import (
    Agent,
    Artisan,
    Chamber,
    IdentificationAttempt,
    PartnerKey,
    PhoneLink,
    ReimbursementClaim,
    StaffMember,
)
from tests.conftest import dispose
from tests.helpers import PRODUCTION_SECRETS, FrozenClock

SECRETS = PRODUCTION_SECRETS
DEMO_AGENT_CODES = [values["agent_code"] for values in DEMO_AGENTS]
NOW = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)


def test_production_app_refuses_demo_rows(settings: Settings, database_url: str) -> None:
    engine = create_engine(database_url)
    production = dataclasses.replace(settings, env="production", **SECRETS)
    try:
        with OrmSession(engine) as session:
            load_demo(session, clock=FrozenClock(dt.datetime(2026, 11, 24, tzinfo=dt.UTC)))
            session.commit()
        with pytest.raises(SettingsError, match="demo data"):
            create_app(production)
    finally:
        with OrmSession(engine) as session:
            session.execute(delete(PhoneLink))
            session.execute(delete(IdentificationAttempt))
            session.execute(delete(ReimbursementClaim))
            session.execute(delete(Artisan).where(Artisan.rna_number.startswith("DEMO-")))
            session.execute(delete(Agent).where(Agent.agent_code.in_(DEMO_AGENT_CODES)))
            session.execute(delete(Chamber))
            session.commit()
        engine.dispose()
    app = create_app(production)  # without demo rows it starts
    assert app.extensions["hirfa"].settings.is_production
    dispose(app)


def test_production_app_refuses_the_demo_staff_login(settings: Settings, database_url: str) -> None:
    engine = create_engine(database_url)
    production = dataclasses.replace(settings, env="production", **SECRETS)
    try:
        with OrmSession(engine) as session:
            load_demo_staff(session, clock=FrozenClock(dt.datetime(2026, 11, 24, tzinfo=dt.UTC)))
            session.commit()
        with pytest.raises(SettingsError, match="demo data"):
            create_app(production)
    finally:
        with OrmSession(engine) as session:
            session.execute(delete(StaffMember).where(StaffMember.username == DEMO_STAFF[0]))
            session.commit()
        engine.dispose()


@pytest.mark.parametrize(
    ("change", "setting"),
    [
        ({"database_url": "sqlite:///x.db"}, "DATABASE_URL"),
        ({"redis_url": "fakeredis://"}, "REDIS_URL"),
        ({"load_demo_data": True}, "LOAD_DEMO_DATA"),
        ({"secret_key": "short"}, "SECRET_KEY"),
    ],
)
def test_production_refuses_embedded_parts(settings: Settings, change: dict[str, object], setting: str) -> None:
    production = dataclasses.replace(settings, env="production", **{**SECRETS, **change})  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match=setting):
        create_app(production)


def test_production_app_refuses_demo_agents_until_disabled(settings: Settings, database_url: str) -> None:
    engine = create_engine(database_url)
    production = dataclasses.replace(settings, env="production", **SECRETS)
    try:
        with OrmSession(engine) as session:
            load_demo(session, clock=FrozenClock(NOW))
            # Only the agents left (PIN 1234, phones the README prints), locked or not.
            session.execute(delete(PhoneLink))
            session.execute(delete(IdentificationAttempt))
            session.execute(delete(ReimbursementClaim))
            session.execute(delete(Artisan).where(Artisan.rna_number.startswith("DEMO-")))
            session.execute(delete(Chamber))
            session.execute(update(Agent).where(Agent.agent_code == DEMO_AGENT_CODES[0]).values(status="locked"))
            session.commit()
        with pytest.raises(SettingsError, match="demo data"):
            create_app(production)
        with OrmSession(engine) as session:
            session.execute(update(Agent).where(Agent.agent_code.in_(DEMO_AGENT_CODES)).values(status="disabled"))
            session.commit()
        dispose(create_app(production))  # disabled, they can do nothing: it starts
    finally:
        with OrmSession(engine) as session:
            session.execute(delete(Agent).where(Agent.agent_code.in_(DEMO_AGENT_CODES)))
            session.commit()
        engine.dispose()


def test_production_app_refuses_active_demo_chambers(settings: Settings, database_url: str) -> None:
    engine = create_engine(database_url)
    production = dataclasses.replace(settings, env="production", **SECRETS)
    try:
        with OrmSession(engine) as session:
            for values in demo_chambers()[:1]:
                upsert_chamber(session, values)
            session.commit()
        with pytest.raises(SettingsError, match="demo data"):
            create_app(production)
        with OrmSession(engine) as session:
            session.execute(update(Chamber).values(active=False))
            session.commit()
        dispose(create_app(production))  # an inactive demo row gets no request: it starts
    finally:
        with OrmSession(engine) as session:
            session.execute(delete(Chamber))
            session.commit()
        engine.dispose()


def test_production_app_refuses_active_demo_partner_keys(settings: Settings, database_url: str) -> None:
    engine = create_engine(database_url)
    production = dataclasses.replace(settings, env="production", **SECRETS)
    try:
        with OrmSession(engine) as session:
            create_demo_keys(session, settings, FrozenClock(NOW))  # their secrets were printed by `make run`
            session.commit()
        with pytest.raises(SettingsError, match="demo data"):
            create_app(production)
        with OrmSession(engine) as session:
            session.execute(update(PartnerKey).values(status="revoked"))
            session.commit()
        dispose(create_app(production))  # revoked, they sign nothing: it starts
        # A bank's demo key alone is enough to refuse (it would read artisans' CINs).
        with OrmSession(engine) as session:
            session.execute(update(PartnerKey).where(PartnerKey.name == "demo-bank-awb").values(status="active"))
            session.commit()
        with pytest.raises(SettingsError, match="demo data"):
            create_app(production)
    finally:
        with OrmSession(engine) as session:
            session.execute(delete(PartnerKey).where(PartnerKey.name.startswith("demo-")))
            session.commit()
        engine.dispose()


# /metrics -------------------------------------------------------------------------------


def test_metrics_need_the_bearer_token_in_production(make_app: Callable[..., Flask]) -> None:
    client = make_app(env="production", **SECRETS).test_client()
    token = SECRETS["metrics_token"]
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": token},
        {"Authorization": f"Basic {token}"},
    ):
        refused = client.get("/metrics", headers=headers)
        assert refused.status_code == 401, headers
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert refused.get_json()["error"]["code"] == "unauthorized"
        assert b"hirfa_" not in refused.data
    # From this machine too: the token is the only way in when no address is allowed.
    opened = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert opened.status_code == 200
    assert opened.content_type.startswith("text/plain")


def test_metrics_from_an_allowed_address_in_production(make_app: Callable[..., Flask]) -> None:
    secrets = {**SECRETS, "metrics_token": ""}
    client = make_app(
        env="production", metrics_allowed_ips=("192.0.2.0/24",), trusted_proxies=1, **secrets
    ).test_client()

    def status(forwarded_for: str) -> int:
        return client.get("/metrics", headers={"X-Forwarded-For": forwarded_for}).status_code

    assert status("192.0.2.7") == 200
    assert status("198.51.100.7") == 401
    assert status("127.0.0.1") == 401  # the proxy itself is on this machine: the client decides
    assert client.get("/metrics", headers={"Authorization": "Bearer anything"}).status_code == 401


def test_metrics_stay_open_in_development_unless_closed(client: FlaskClient, make_app: Callable[..., Flask]) -> None:
    assert client.get("/metrics").status_code == 200
    closed = make_app(metrics_token=SECRETS["metrics_token"]).test_client()
    assert closed.get("/metrics").status_code == 401
    assert closed.get("/metrics", headers={"Authorization": f"Bearer {SECRETS['metrics_token']}"}).status_code == 200
