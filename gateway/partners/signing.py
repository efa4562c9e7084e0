"""Signed partner requests (README.md, "Partner API").

A partner sends three headers:

    X-Hirfa-Key:        its key id (hk_…)
    X-Hirfa-Timestamp:  unix seconds; refused beyond ±300 s of our clock
    X-Hirfa-Signature:  hex HMAC-SHA256(secret, METHOD \\n PATH \\n TIMESTAMP \\n hex SHA-256(BODY))

PATH is the request path without the query string, BODY the raw bytes sent (empty for
a GET). A signature is accepted once: retrying a request means signing it again with a
fresh timestamp (payments stay idempotent on network_txn_id, not on the signature)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Callable

from redis import Redis
from sqlalchemy.orm import Session

from gateway.config import Settings
from gateway.partners.keys import KEY_ID_PREFIX, find_key, secret_of
from models import PartnerKey

KEY_HEADER = "X-Hirfa-Key"
TIMESTAMP_HEADER = "X-Hirfa-Timestamp"
SIGNATURE_HEADER = "X-Hirfa-Signature"
MAX_SKEW_SECONDS = 300
# A signature is good for ±300 s around its timestamp: remembering it 600 s covers that window.
NONCE_TTL_SECONDS = 2 * MAX_SKEW_SECONDS
AUTH_CODES = ("missing_signature", "unknown_key", "revoked_key", "stale_timestamp", "bad_signature", "replayed")

KEY_ID_RE = re.compile(re.escape(KEY_ID_PREFIX) + r"[A-Za-z0-9_-]{16}")
TIMESTAMP_RE = re.compile(r"[0-9]{1,12}")
SIGNATURE_RE = re.compile(r"[0-9a-fA-F]{64}")


class AuthError(Exception):
    """A request refused before anything else is looked at; `code` is one of AUTH_CODES."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def string_to_sign(method: str, path: str, timestamp: int | str, body: bytes) -> bytes:
    return f"{method.upper()}\n{path}\n{timestamp}\n{body_digest(body)}".encode()


def sign(method: str, path: str, timestamp: int | str, body: bytes, secret: str) -> str:
    """The X-Hirfa-Signature of a request (what partners and tests compute)."""
    return hmac.new(secret.encode(), string_to_sign(method, path, timestamp, body), hashlib.sha256).hexdigest()


def verify(
    *,
    db: Session,
    redis: Redis,
    settings: Settings,
    clock: Callable[[], dt.datetime],
    method: str,
    path: str,
    body: bytes,
    key_id: str | None,
    timestamp: str | None,
    signature: str | None,
) -> PartnerKey:
    """The active key that signed this request, or AuthError.

    Every other check comes before the signature is remembered, so that a refused
    request does not use up a signature its sender may still send correctly."""
    if not key_id or not timestamp or not signature:
        raise AuthError(
            "missing_signature", f"{KEY_HEADER}, {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} are all required"
        )
    if not TIMESTAMP_RE.fullmatch(timestamp) or abs(int(timestamp) - clock().timestamp()) > MAX_SKEW_SECONDS:
        raise AuthError("stale_timestamp", f"{TIMESTAMP_HEADER} must be unix seconds within {MAX_SKEW_SECONDS} s")
    # Malformed ids never reach the database (a NUL byte would upset PostgreSQL).
    key = find_key(db, key_id) if KEY_ID_RE.fullmatch(key_id) else None
    if key is None:
        raise AuthError("unknown_key", "unknown key")
    if key.status != "active":
        raise AuthError("revoked_key", "this key is revoked")
    # Lower case so that the same signature in capitals is not a second, unseen one.
    given = signature.lower()
    expected = sign(method, path, timestamp, body, secret_of(key, settings))
    if not SIGNATURE_RE.fullmatch(given) or not hmac.compare_digest(given, expected):
        raise AuthError("bad_signature", "the signature does not match this request")
    if not redis.set(settings.redis_prefix + "api:nonce:" + given, b"1", nx=True, ex=NONCE_TTL_SECONDS):
        raise AuthError("replayed", "this signature was already used; sign the request again")
    return key
