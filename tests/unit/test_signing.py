"""Partner keys and request signatures: the scheme of the README, against real PostgreSQL and Redis."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
from typing import Any

import pytest
from flask import Flask
from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.config import Settings
from gateway.errors import Refusal
from gateway.partners.keys import SecretUnreadable, create_demo_keys, create_key, revoke_key, rotate_key, secret_of
from gateway.partners.signing import sign, signed_headers, string_to_sign, verify
from gateway.wiring import EXTENSION
from models import PartnerKey
from tests.helpers import FrozenClock

NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
TS = str(int(NOW.timestamp()))
PATH = "/api/v1/payments"
BODY = b'{"reference": "1234567890"}'
NONCE = "n0nce-of-24-chars_xxxxxx"


@pytest.fixture
def frozen() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def redis_client(app: Flask) -> Redis:
    client: Redis = app.extensions[EXTENSION].redis
    return client


@pytest.fixture
def issued(db_session: Session, settings: Settings, frozen: FrozenClock) -> tuple[PartnerKey, str]:
    return create_key(
        db_session, name="wafacash test", network="wafacash", reimbursements=False, settings=settings, clock=frozen
    )


@dataclasses.dataclass
class Verifier:
    """`verify` over the test's database, Redis and clock, for one request at a time."""

    db: Session
    redis: Redis
    settings: Settings
    clock: FrozenClock

    def __call__(self, key_id: str | None, signature: str | None, **changes: Any) -> PartnerKey:
        request: dict[str, Any] = {"method": "POST", "path": PATH, "body": BODY, "timestamp": TS, "nonce": NONCE}
        request |= changes
        return verify(
            db=self.db,
            redis=self.redis,
            settings=self.settings,
            clock=self.clock,
            key_id=key_id,
            signature=signature,
            **request,
        )

    def refusal(self, key_id: str | None, signature: str | None, **changes: Any) -> str:
        with pytest.raises(Refusal) as refused:
            self(key_id, signature, **changes)
        return refused.value.code


@pytest.fixture
def check(db_session: Session, redis_client: Redis, settings: Settings, frozen: FrozenClock) -> Verifier:
    return Verifier(db_session, redis_client, settings, frozen)


# The scheme ---------------------------------------------------------------------------------


def test_string_to_sign_is_method_path_timestamp_nonce_and_body_digest() -> None:
    digest = hashlib.sha256(BODY).hexdigest()
    expected = f"POST\n{PATH}\n1795514400\n{NONCE}\n{digest}".encode()
    assert string_to_sign("post", PATH, 1795514400, NONCE, BODY) == expected


def test_signature_is_hex_hmac_sha256_of_the_string_to_sign() -> None:
    # A fixed vector (checked with openssl too): partners can check their own code against it.
    assert (
        sign("GET", "/api/v1/references/1234567890", 1795514400, NONCE, b"", secret="s3cret")
        == "f6a3e94a56c6efeab1748812fc8e42b6f82106b0a9072f5ad5892fdd9b88e959"
    )
    expected = hmac.new(b"k", string_to_sign("POST", PATH, TS, NONCE, BODY), hashlib.sha256).hexdigest()
    assert sign("POST", PATH, TS, NONCE, BODY, secret="k") == expected


def test_signed_headers_are_the_four_headers_with_a_fresh_nonce(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.time", lambda: 1795514400.7)
    first = signed_headers("POST", PATH, BODY, "hk_x", "k")
    second = signed_headers("POST", PATH, BODY, "hk_x", "k")
    assert set(first) == {"X-Hirfa-Key", "X-Hirfa-Timestamp", "X-Hirfa-Nonce", "X-Hirfa-Signature"}
    assert (first["X-Hirfa-Key"], first["X-Hirfa-Timestamp"]) == ("hk_x", "1795514400")
    nonce = first["X-Hirfa-Nonce"]
    assert 16 <= len(nonce) <= 64 and nonce != second["X-Hirfa-Nonce"]
    assert first["X-Hirfa-Signature"] == sign("POST", PATH, "1795514400", nonce, BODY, secret="k")
    given = signed_headers("GET", "/p?q=1", b"", "hk_x", "k", timestamp=5, nonce=NONCE)
    assert given["X-Hirfa-Signature"] == sign("GET", "/p?q=1", 5, NONCE, b"", secret="k")


# Verification -------------------------------------------------------------------------------


def test_a_good_signature_gives_the_key_and_its_nonce_is_remembered_600_s(
    check: Verifier, redis_client: Redis, settings: Settings, issued: tuple[PartnerKey, str]
) -> None:
    key, secret = issued
    assert check(key.key_id, sign("POST", PATH, TS, NONCE, BODY, secret=secret)) is key
    ttl = redis_client.ttl(f"{settings.redis_prefix}api:nonce:{key.key_id}:{NONCE}")
    assert isinstance(ttl, int) and 590 <= ttl <= 600


def test_a_nonce_is_accepted_once_per_key(
    check: Verifier, settings: Settings, frozen: FrozenClock, issued: tuple[PartnerKey, str]
) -> None:
    key, secret = issued
    signature = sign("POST", PATH, TS, NONCE, BODY, secret=secret)
    check(key.key_id, signature)
    assert check.refusal(key.key_id, signature) == "replayed"
    # The same hex in capitals is the same request, not a fresh one.
    assert check.refusal(key.key_id, signature.upper()) == "replayed"
    # Signed again under a later timestamp, or for another request, the nonce is still spent.
    later = str(int(NOW.timestamp()) + 200)
    frozen.advance(seconds=200)
    assert (
        check.refusal(key.key_id, sign("POST", PATH, later, NONCE, BODY, secret=secret), timestamp=later) == "replayed"
    )
    other = sign("GET", "/api/v1/references/1234567890", later, NONCE, b"", secret=secret)
    assert (
        check.refusal(key.key_id, other, method="GET", path="/api/v1/references/1234567890", body=b"", timestamp=later)
        == "replayed"
    )
    # Another key's nonces are its own.
    second, second_secret = create_key(
        check.db, name="wafacash two", network="wafacash", reimbursements=False, settings=settings, clock=frozen
    )
    assert check(second.key_id, sign("POST", PATH, later, NONCE, BODY, secret=second_secret), timestamp=later) is second


def test_the_same_request_in_the_same_second_with_two_nonces_passes_twice(
    check: Verifier, issued: tuple[PartnerKey, str]
) -> None:
    key, secret = issued
    for nonce in ("first-nonce-0000001", "second-nonce-000002"):
        assert check(key.key_id, sign("POST", PATH, TS, nonce, BODY, secret=secret), nonce=nonce) is key


@pytest.mark.parametrize("missing", ["key_id", "timestamp", "nonce", "signature"])
def test_every_header_is_required(check: Verifier, issued: tuple[PartnerKey, str], missing: str) -> None:
    key, secret = issued
    given: dict[str, str | None] = {
        "key_id": key.key_id,
        "signature": sign("POST", PATH, TS, NONCE, BODY, secret=secret),
    }
    changes = {missing: ""} if missing in ("timestamp", "nonce") else {}
    if missing in given:
        given[missing] = None
    assert check.refusal(given["key_id"], given["signature"], **changes) == "missing_signature"


@pytest.mark.parametrize("nonce", ["A" * 16, "z" * 64, "aZ09_-" * 3])
def test_nonces_of_16_to_64_url_safe_characters_are_accepted(
    check: Verifier, issued: tuple[PartnerKey, str], nonce: str
) -> None:
    key, secret = issued
    assert check(key.key_id, sign("POST", PATH, TS, nonce, BODY, secret=secret), nonce=nonce) is key


@pytest.mark.parametrize(
    "nonce",
    ["A" * 15, "A" * 65, "a+b/c=" * 3, "with space 00000000", "é" * 16, "١" * 16, "nonce\x00" * 3, "A" * 10_000],
)
def test_malformed_nonces_are_refused_and_not_remembered(
    check: Verifier, redis_client: Redis, settings: Settings, issued: tuple[PartnerKey, str], nonce: str
) -> None:
    key, secret = issued
    assert check.refusal(key.key_id, sign("POST", PATH, TS, nonce, BODY, secret=secret), nonce=nonce) == "bad_nonce"
    assert not list(redis_client.scan_iter(match=f"{settings.redis_prefix}api:nonce:{key.key_id}:*"))


@pytest.mark.parametrize(
    ("offset", "accepted"), [(-300, True), (300, True), (-301, False), (301, False), (-86400, False)]
)
def test_timestamps_beyond_300_seconds_are_stale(
    check: Verifier, issued: tuple[PartnerKey, str], offset: int, accepted: bool
) -> None:
    key, secret = issued
    timestamp = str(int(NOW.timestamp()) + offset)
    signature = sign("POST", PATH, timestamp, NONCE, BODY, secret=secret)
    if accepted:
        assert check(key.key_id, signature, timestamp=timestamp) is key
    else:
        assert check.refusal(key.key_id, signature, timestamp=timestamp) == "stale_timestamp"


@pytest.mark.parametrize("timestamp", ["1795514400.0", "-1795514400", "+1795514400", "١٧٩٥٥١٤٤٠٠", "abc", "9" * 40])
def test_malformed_timestamps_are_refused(check: Verifier, issued: tuple[PartnerKey, str], timestamp: str) -> None:
    key, secret = issued
    signature = sign("POST", PATH, timestamp, NONCE, BODY, secret=secret)
    assert check.refusal(key.key_id, signature, timestamp=timestamp) == "stale_timestamp"


@pytest.mark.parametrize("key_id", ["hk_AAAAAAAAAAAAAAAA", "hk_\x00AAAAAAAAAAAAAAA", "nope", "hk_" + "A" * 200])
def test_unknown_keys_are_refused(check: Verifier, key_id: str) -> None:
    assert check.refusal(key_id, "0" * 64) == "unknown_key"


def test_revoked_keys_are_refused(check: Verifier, frozen: FrozenClock, issued: tuple[PartnerKey, str]) -> None:
    key, secret = issued
    revoke_key(check.db, key_id=key.key_id, clock=frozen)
    assert check.refusal(key.key_id, sign("POST", PATH, TS, NONCE, BODY, secret=secret)) == "revoked_key"


@pytest.mark.parametrize(
    "tampered",
    [
        {"method": "GET"},
        {"path": "/api/v1/payments/WF0000000001/reversal"},
        {"path": PATH + "?dry_run=1"},
        {"body": b'{"reference": "1234567891"}'},
        {"body": b""},
        {"timestamp": str(int(NOW.timestamp()) + 1)},
        {"nonce": NONCE.upper()},
    ],
)
def test_a_signature_for_another_request_is_bad_and_uses_up_no_nonce(
    check: Verifier, issued: tuple[PartnerKey, str], tampered: dict[str, Any]
) -> None:
    key, secret = issued
    signature = sign("POST", PATH, TS, NONCE, BODY, secret=secret)
    assert check.refusal(key.key_id, signature, **tampered) == "bad_signature"
    # Refused requests leave no nonce behind: the genuine request still goes through.
    assert check(key.key_id, signature) is key


@pytest.mark.parametrize("signature", ["zz" * 32, "ab", "é" * 64, "0" * 65])
def test_malformed_signatures_are_bad(check: Verifier, issued: tuple[PartnerKey, str], signature: str) -> None:
    key, _ = issued
    assert check.refusal(key.key_id, signature) == "bad_signature"


def test_a_stale_request_does_not_use_up_its_nonce(
    check: Verifier, frozen: FrozenClock, issued: tuple[PartnerKey, str]
) -> None:
    key, secret = issued
    signature = sign("POST", PATH, TS, NONCE, BODY, secret=secret)
    frozen.advance(seconds=400)
    assert check.refusal(key.key_id, signature) == "stale_timestamp"
    frozen.advance(seconds=-400)
    assert check(key.key_id, signature) is key


def test_after_rotation_only_the_new_secret_signs(
    check: Verifier, settings: Settings, frozen: FrozenClock, issued: tuple[PartnerKey, str]
) -> None:
    key, old = issued
    rotated, new = rotate_key(check.db, key_id=key.key_id, settings=settings, clock=frozen)
    assert rotated.key_id == key.key_id and new != old
    assert rotated.rotated_at == NOW
    assert check.refusal(key.key_id, sign("POST", PATH, TS, NONCE, BODY, secret=old)) == "bad_signature"
    assert check(key.key_id, sign("POST", PATH, TS, NONCE, BODY, secret=new)) is key


# Keys ----------------------------------------------------------------------------------------


def test_keys_look_right_and_keep_their_secret_encrypted(
    db_session: Session, settings: Settings, issued: tuple[PartnerKey, str]
) -> None:
    key, secret = issued
    assert key.key_id.startswith("hk_") and len(key.key_id) == 19
    assert len(secret) == 43  # 32 bytes, url-safe base64 without padding
    assert (key.kind, key.network, key.status, key.created_at) == ("network", "wafacash", "active", NOW)
    stored = db_session.scalar(select(PartnerKey.secret_encrypted).where(PartnerKey.key_id == key.key_id))
    assert stored is not None and secret not in stored
    assert secret_of(key, settings) == secret
    other = dataclasses.replace(settings, secret_key="another-secret-key-" + "y" * 32)
    with pytest.raises(SecretUnreadable):
        secret_of(key, other)


def test_two_keys_never_share_an_id_or_a_secret(db_session: Session, settings: Settings, frozen: FrozenClock) -> None:
    made = [
        create_key(
            db_session, name=f"k{n}", network="fellah_cash", reimbursements=False, settings=settings, clock=frozen
        )
        for n in range(5)
    ]
    assert len({key.key_id for key, _ in made}) == 5
    assert len({secret for _, secret in made}) == 5


def test_a_reimbursements_key_has_no_network(db_session: Session, settings: Settings, frozen: FrozenClock) -> None:
    key, _ = create_key(db_session, name="cnss", network=None, reimbursements=True, settings=settings, clock=frozen)
    assert (key.kind, key.network) == ("reimbursements", None)


@pytest.mark.parametrize(
    ("name", "network", "reimbursements", "code"),
    [
        ("x", None, False, "invalid_kind"),
        ("x", "wafacash", True, "invalid_kind"),
        ("x", "cih", False, "invalid_kind"),
        ("   ", "wafacash", False, "invalid_name"),
        ("x" * 81, "wafacash", False, "invalid_name"),
        ("wafacash test", "wafacash", False, "name_taken"),
    ],
)
def test_key_creation_refusals(
    db_session: Session,
    settings: Settings,
    frozen: FrozenClock,
    issued: tuple[PartnerKey, str],
    name: str,
    network: str | None,
    reimbursements: bool,
    code: str,
) -> None:
    with pytest.raises(Refusal) as refused:
        create_key(
            db_session, name=name, network=network, reimbursements=reimbursements, settings=settings, clock=frozen
        )
    assert refused.value.code == code


def test_rotating_or_revoking_an_unknown_key_is_refused(
    db_session: Session, settings: Settings, frozen: FrozenClock
) -> None:
    with pytest.raises(Refusal, match="no partner key"):
        rotate_key(db_session, key_id="hk_missing", settings=settings, clock=frozen)
    with pytest.raises(Refusal, match="no partner key"):
        revoke_key(db_session, key_id="hk_missing", clock=frozen)


def test_a_revoked_key_cannot_be_rotated(
    db_session: Session, settings: Settings, frozen: FrozenClock, issued: tuple[PartnerKey, str]
) -> None:
    key, _ = issued
    revoked = revoke_key(db_session, key_id=key.key_id, clock=frozen)
    assert (revoked.status, revoked.revoked_at) == ("revoked", NOW)
    with pytest.raises(Refusal) as refused:
        rotate_key(db_session, key_id=key.key_id, settings=settings, clock=frozen)
    assert refused.value.code == "revoked_key"


def test_demo_keys_are_made_once_and_given_again(db_session: Session, settings: Settings, frozen: FrozenClock) -> None:
    first = create_demo_keys(db_session, settings, frozen)
    assert [shown["name"] for shown in first] == [
        "demo-wafacash",
        "demo-fellah_cash",
        "demo-reimbursements",
        "demo-bank-cam",
        "demo-bank-awb",
    ]
    assert create_demo_keys(db_session, settings, frozen) == first
    keys = {key.name: key for key in db_session.scalars(select(PartnerKey).where(PartnerKey.name.like("demo-%")))}
    assert len(keys) == 5
    assert (keys["demo-wafacash"].kind, keys["demo-wafacash"].network) == ("network", "wafacash")
    assert (keys["demo-fellah_cash"].kind, keys["demo-fellah_cash"].network) == ("network", "fellah_cash")
    assert (keys["demo-reimbursements"].kind, keys["demo-reimbursements"].network) == ("reimbursements", None)
    assert (keys["demo-bank-cam"].kind, keys["demo-bank-cam"].bank) == ("bank", "cam")
    assert (keys["demo-bank-awb"].kind, keys["demo-bank-awb"].bank) == ("bank", "awb")
    # A revoked demo key comes back to life with a new secret.
    revoke_key(db_session, key_id=first[0]["key_id"], clock=frozen)
    again = create_demo_keys(db_session, settings, frozen)
    assert again[0]["key_id"] == first[0]["key_id"] and again[0]["secret"] != first[0]["secret"]
    assert keys["demo-wafacash"].status == "active"
    assert again[1:] == first[1:]


def test_demo_keys_are_refused_in_production(db_session: Session, settings: Settings, frozen: FrozenClock) -> None:
    production = dataclasses.replace(settings, env="production")
    with pytest.raises(Refusal):
        create_demo_keys(db_session, production, frozen)
