"""Production settings refuse demo data and embedded stand-ins at start."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import create_engine, delete
from sqlalchemy.orm import Session as OrmSession

from gateway import create_app
from gateway.config import Settings, SettingsError
from gateway.demo import DEMO_STAFF, load_demo, load_demo_staff
from models import Artisan, IdentificationAttempt, PhoneLink, ReimbursementClaim, StaffMember
from tests.conftest import dispose
from tests.helpers import FrozenClock

SECRETS = {
    "secret_key": "s" * 40,
    "ussd_callback_key": "k" * 30,
    "sms_backend": "africastalking",
    "at_username": "hirfa",
    "at_api_key": "a" * 32,
}


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
