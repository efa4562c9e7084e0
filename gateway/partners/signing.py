"""Signed partner requests (README.md, "Partner API").

A partner sends four headers:

    X-Hirfa-Key:        its key id (hk_…)
    X-Hirfa-Timestamp:  unix seconds; refused beyond ±300 s of our clock
    X-Hirfa-Nonce:      16 to 64 of [A-Za-z0-9_-], new for every request
    X-Hirfa-Signature:  hex HMAC-SHA256(secret,
                            METHOD \\n PATH \\n TIMESTAMP \\n NONCE \\n hex SHA-256(BODY))

PATH is the path and, when there is one, `?` and the query string, exactly as sent;
BODY the raw bytes sent (empty for a GET). A nonce is accepted once per key: retrying a
request means signing it again with a fresh nonce (payments stay idempotent on
network_txn_id, not on the signature). `signed_headers` is the client side: the one way
the tests, benchmarks and README examples sign."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable

from redis import Redis
from sqlalchemy.orm import Session

from gateway.config import Settings
from gateway.errors import Refusal
from gateway.partners.keys import KEY_ID_PREFIX, find_key, secret_of
from models import PartnerKey

KEY_HEADER = "X-Hirfa-Key"
TIMESTAMP_HEADER = "X-Hirfa-Timestamp"
NONCE_HEADER = "X-Hirfa-Nonce"
SIGNATURE_HEADER = "X-Hirfa-Signature"
MAX_SKEW_SECONDS = 300
# A request is good for ±300 s around its timestamp: remembering its nonce 600 s from its
# first use outlives every copy of it, and a nonce reused under a new timestamp in that time.
NONCE_TTL_SECONDS = 2 * MAX_SKEW_SECONDS
NONCE_MIN, NONCE_MAX = 16, 64
AUTH_CODES = (
    "missing_signature",
    "unknown_key",
    "revoked_key",
    "stale_timestamp",
    "bad_nonce",
    "bad_signature",
    "replayed",
)

KEY_ID_RE = re.compile(re.escape(KEY_ID_PREFIX) + r"[A-Za-z0-9_-]{16}")
TIMESTAMP_RE = re.compile(r"[0-9]{1,12}")
NONCE_RE = re.compile(rf"[A-Za-z0-9_-]{{{NONCE_MIN},{NONCE_MAX}}}")
SIGNATURE_RE = re.compile(r"[0-9a-fA-F]{64}")


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def string_to_sign(method: str, path: str, timestamp: int | str, nonce: str, body: bytes) -> bytes:
    return f"{method.upper()}\n{path}\n{timestamp}\n{nonce}\n{body_digest(body)}".encode()


def sign(method: str, path: str, timestamp: int | str, nonce: str, body: bytes, *, secret: str) -> str:
    """The X-Hirfa-Signature of a request."""
    message = string_to_sign(method, path, timestamp, nonce, body)
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(
    method: str,
    path: str,
    body: bytes,
    key_id: str,
    secret: str,
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The four headers that sign a request (the client side): `path` with its query
    string, as it will be sent; a fresh nonce and the current time unless given."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    fresh = secrets.token_urlsafe(24) if nonce is None else nonce  # 32 characters
    return {
        KEY_HEADER: key_id,
        TIMESTAMP_HEADER: stamp,
        NONCE_HEADER: fresh,
        SIGNATURE_HEADER: sign(method, path, stamp, fresh, body, secret=secret),
    }


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
    nonce: str | None,
    signature: str | None,
) -> PartnerKey:
    """The active key that signed this request, or Refusal.

    Every other check comes before the nonce is remembered, so that a refused request
    does not use up a nonce its sender may still send correctly."""
    if not key_id or not timestamp or not nonce or not signature:
        raise Refusal(
            "missing_signature",
            f"{KEY_HEADER}, {TIMESTAMP_HEADER}, {NONCE_HEADER} and {SIGNATURE_HEADER} are all required",
        )
    if not TIMESTAMP_RE.fullmatch(timestamp) or abs(int(timestamp) - clock().timestamp()) > MAX_SKEW_SECONDS:
        raise Refusal("stale_timestamp", f"{TIMESTAMP_HEADER} must be unix seconds within {MAX_SKEW_SECONDS} s")
    if not NONCE_RE.fullmatch(nonce):
        raise Refusal("bad_nonce", f"{NONCE_HEADER} must be {NONCE_MIN} to {NONCE_MAX} of A-Z a-z 0-9 _ -")
    # Malformed ids never reach the database (a NUL byte would upset PostgreSQL).
    key = find_key(db, key_id) if KEY_ID_RE.fullmatch(key_id) else None
    if key is None:
        raise Refusal("unknown_key", "unknown key")
    if key.status != "active":
        raise Refusal("revoked_key", "this key is revoked")
    expected = sign(method, path, timestamp, nonce, body, secret=secret_of(key, settings))
    if not SIGNATURE_RE.fullmatch(signature) or not hmac.compare_digest(signature.lower(), expected):
        raise Refusal("bad_signature", "the signature does not match this request")
    # The nonce as sent, case and all: it is what the signature covers.
    remembered = f"{settings.redis_prefix}api:nonce:{key.key_id}:{nonce}"
    if not redis.set(remembered, b"1", nx=True, ex=NONCE_TTL_SECONDS):
        raise Refusal("replayed", "this nonce was already used with this key; sign again with a new nonce")
    return key
