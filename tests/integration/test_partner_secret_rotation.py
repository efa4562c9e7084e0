"""Partner secrets through a SECRET_KEY rotation: read under SECRET_KEY_FALLBACKS, moved to
the new key by `flask partners reencrypt`, and readable without the old secret after it."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from gateway import db
from gateway.config import Settings
from gateway.partners.keys import SecretUnreadable, create_key, find_key, secret_of
from models import PartnerKey
from tests.helpers import FrozenClock


def test_secrets_outlive_a_secret_key_rotation(
    settings: Settings, db_session: Session, clock: FrozenClock, make_app: Callable[..., Flask]
) -> None:
    key, secret = create_key(
        db_session, name="wafacash-core", network="wafacash", reimbursements=False, settings=settings, clock=clock
    )
    lost, lost_secret = create_key(
        db_session,
        name="encrypted-elsewhere",
        network="fellah_cash",
        reimbursements=False,
        settings=dataclasses.replace(settings, secret_key=secrets.token_hex(32)),
        clock=clock,
    )
    db_session.commit()
    new = secrets.token_hex(32)
    rotating = dataclasses.replace(settings, secret_key=new, secret_key_fallbacks=(settings.secret_key,))
    rotated = dataclasses.replace(settings, secret_key=new)

    assert secret_of(key, rotating) == secret  # the old secret is a fallback: partners sign on
    with pytest.raises(SecretUnreadable, match=key.key_id) as unreadable:
        secret_of(key, rotated)
    assert secret not in str(unreadable.value)

    key_id = key.key_id

    def stored() -> PartnerKey:  # the command's app closes the test's session: read the row again
        row = find_key(db_session, key_id)
        assert row is not None
        return row

    app = make_app(secret_key=new, secret_key_fallbacks=(settings.secret_key,))
    app.extensions[db.EXTENSION] = lambda: db_session
    result = app.test_cli_runner().invoke(args=["partners", "reencrypt"])

    # The key no secret given opens is named (its partner needs `partners rotate`); the rest moved.
    assert result.exit_code == 1
    assert lost.key_id in result.output and key.key_id not in result.output.split("(")[-1]
    assert secret not in result.output and lost_secret not in result.output
    assert secret_of(stored(), rotated) == secret
    again = app.test_cli_runner().invoke(args=["partners", "reencrypt"])  # running it again is harmless
    assert again.exit_code == 1
    assert secret_of(stored(), rotated) == secret
