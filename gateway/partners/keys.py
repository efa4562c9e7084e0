"""Partner API keys: made, rotated and revoked here. Services flush; the caller commits.

The signing secret has to be read back to check an HMAC, so it cannot be hashed like a
password: it is kept encrypted (Fernet) under a key derived from SECRET_KEY
(gateway/keyring.py). It is shown once, when it is made, and never logged. To change
SECRET_KEY, keep the old one in SECRET_KEY_FALLBACKS until `flask partners reencrypt`
has moved every stored secret to the new key."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable

from cryptography.fernet import InvalidToken, MultiFernet
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import keyring
from gateway.config import Settings
from gateway.errors import Refusal
from models import PartnerKey
from models.banks import BANKS
from models.payments import NETWORKS

KEY_ID_PREFIX = "hk_"
KEY_ID_RANDOM_BYTES = 12  # 16 url-safe characters after the prefix
SECRET_BYTES = 32
NAME_MAX = 80
# Each demo key's partner: (network, bank); neither is the reimbursement feed.
DEMO_KEY_NAMES: dict[str, tuple[str | None, str | None]] = {
    "demo-wafacash": ("wafacash", None),
    "demo-fellah_cash": ("fellah_cash", None),
    "demo-reimbursements": (None, None),
    "demo-bank-cam": (None, "cam"),
    "demo-bank-awb": (None, "awb"),
}

Clock = Callable[[], dt.datetime]


class SecretUnreadable(RuntimeError):
    """A stored secret decrypts neither with SECRET_KEY nor with SECRET_KEY_FALLBACKS."""


def _fernet(settings: Settings) -> MultiFernet:
    return keyring.partner_secrets_cipher(settings)


def _encrypt(secret: str, settings: Settings) -> str:
    return _fernet(settings).encrypt(secret.encode()).decode("ascii")


def secret_of(key: PartnerKey, settings: Settings) -> str:
    """The key's signing secret in clear. Raises SecretUnreadable if SECRET_KEY changed
    and the secret it was encrypted under is not in SECRET_KEY_FALLBACKS."""
    try:
        return _fernet(settings).decrypt(key.secret_encrypted.encode("ascii")).decode()
    except InvalidToken:
        raise SecretUnreadable(
            f"the secret of partner key {key.key_id} decrypts with neither SECRET_KEY nor SECRET_KEY_FALLBACKS"
        ) from None


def reencrypt_secrets(db: Session, *, settings: Settings) -> tuple[int, list[str]]:
    """Encrypt every stored secret again under the current SECRET_KEY (after a rotation, so
    that the old secret can leave SECRET_KEY_FALLBACKS). Returns how many were re-encrypted
    and the key ids of those that decrypt with no key given (left as they are). Flushes only."""
    cipher = _fernet(settings)
    done, unreadable = 0, []
    for key in db.scalars(select(PartnerKey).order_by(PartnerKey.id)):
        try:
            key.secret_encrypted = cipher.rotate(key.secret_encrypted.encode("ascii")).decode("ascii")
        except InvalidToken:
            unreadable.append(key.key_id)
            continue
        done += 1
    db.flush()
    return done, unreadable


def find_key(db: Session, key_id: str) -> PartnerKey | None:
    return db.scalar(select(PartnerKey).where(PartnerKey.key_id == key_id))


def _existing(db: Session, key_id: str) -> PartnerKey:
    key = find_key(db, key_id)
    if key is None:
        raise Refusal("unknown_key", f"no partner key {key_id!r}")
    return key


def _new_key_id(db: Session) -> str:
    while True:  # 2**96 ids: a clash is next to impossible, and checked
        candidate = KEY_ID_PREFIX + secrets.token_urlsafe(KEY_ID_RANDOM_BYTES)
        if find_key(db, candidate) is None:
            return candidate


def _kind(network: str | None, reimbursements: bool, bank: str | None) -> str:
    if reimbursements and network is None and bank is None:
        return "reimbursements"
    if not reimbursements and network in NETWORKS and bank is None:
        return "network"
    if not reimbursements and network is None and bank in BANKS:
        return "bank"
    raise Refusal(
        "invalid_kind",
        f"a key is for one network ({' or '.join(NETWORKS)}), the reimbursement feed "
        f"or one bank ({' or '.join(BANKS)})",
    )


def _clean_name(name: str) -> str:
    cleaned = name.strip()
    if not 1 <= len(cleaned) <= NAME_MAX or not cleaned.isprintable():
        raise Refusal("invalid_name", f"a key name is 1 to {NAME_MAX} printable characters")
    return cleaned


def create_key(
    db: Session,
    *,
    name: str,
    network: str | None,
    reimbursements: bool,
    settings: Settings,
    clock: Clock,
    bank: str | None = None,
) -> tuple[PartnerKey, str]:
    """A new active key for one network, the reimbursement feed or one bank; returns it
    with its secret. Names label keys for people: two active keys may not share one."""
    kind = _kind(network, reimbursements, bank)
    cleaned = _clean_name(name)
    taken = db.scalar(select(PartnerKey.id).where(PartnerKey.name == cleaned, PartnerKey.status == "active"))
    if taken is not None:
        raise Refusal("name_taken", f"an active key is already named {cleaned!r}")
    secret = secrets.token_urlsafe(SECRET_BYTES)
    key = PartnerKey(
        key_id=_new_key_id(db),
        name=cleaned,
        kind=kind,
        network=network,
        bank=bank,
        secret_encrypted=_encrypt(secret, settings),
        status="active",
        created_at=clock(),
    )
    db.add(key)
    db.flush()
    return key, secret


def rotate_key(db: Session, *, key_id: str, settings: Settings, clock: Clock) -> tuple[PartnerKey, str]:
    """A new secret for an active key (same key id); the old secret stops working at once."""
    key = _existing(db, key_id)
    if key.status != "active":
        raise Refusal("revoked_key", f"partner key {key_id!r} is revoked; create a new one")
    secret = secrets.token_urlsafe(SECRET_BYTES)
    key.secret_encrypted = _encrypt(secret, settings)
    key.rotated_at = clock()
    db.flush()
    return key, secret


def revoke_key(db: Session, *, key_id: str, clock: Clock) -> PartnerKey:
    """Stop a key for good. Revoking a revoked key changes nothing."""
    key = _existing(db, key_id)
    if key.status != "revoked":
        key.status = "revoked"
        key.revoked_at = clock()
        db.flush()
    return key


def create_demo_keys(db: Session, settings: Settings, clock: Clock) -> list[dict[str, str]]:
    """One key per network, one for the reimbursement feed and one per bank, named `demo-…`, for a first run.

    Running it again gives the same keys and secrets (a revoked or unreadable demo key
    gets a new secret), so that a partner simulator keeps working between runs."""
    if settings.is_production:
        raise Refusal("refused_in_production", "demo keys are refused in production")
    shown = []
    for name, (network, bank) in DEMO_KEY_NAMES.items():
        key = db.scalar(select(PartnerKey).where(PartnerKey.name == name).order_by(PartnerKey.id.desc()).limit(1))
        if key is None:
            key, secret = create_key(
                db,
                name=name,
                network=network,
                reimbursements=network is None and bank is None,
                bank=bank,
                settings=settings,
                clock=clock,
            )
        else:
            secret = _reuse_demo_key(db, key, network, bank, settings=settings, clock=clock)
        shown.append({"name": name, "key_id": key.key_id, "secret": secret})
    return shown


def _reuse_demo_key(
    db: Session, key: PartnerKey, network: str | None, bank: str | None, *, settings: Settings, clock: Clock
) -> str:
    secret: str | None = None
    if key.status == "active":
        try:
            secret = secret_of(key, settings)
        except SecretUnreadable:
            secret = None
    if secret is None:
        secret = secrets.token_urlsafe(SECRET_BYTES)
        key.secret_encrypted = _encrypt(secret, settings)
        key.rotated_at = clock()
    key.kind = _kind(network, network is None and bank is None, bank)
    key.network = network
    key.bank = bank
    key.status = "active"
    key.revoked_at = None
    db.flush()
    return secret
