"""One key per purpose, derived from SECRET_KEY with HKDF-SHA256 (one `info` label each).

A key that leaks for one purpose (a digest published by mistake, a cookie key in a
proxy's log) gives nothing for the others, and the raw SECRET_KEY is never used as a
key. Rotation (README, "Keys and rotation"): SECRET_KEY_FALLBACKS holds the previous
secrets; cookies signed and partner secrets encrypted under them are still read, and
`flask partners reencrypt` moves stored secrets to the current key.

Changing a label changes its key: for partner secrets that makes every stored secret
unreadable, so the labels are fixed for good."""

from __future__ import annotations

import base64
from functools import cache

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gateway.config import Settings

COOKIES = b"hirfa /ops session cookies v1"
# The label partner secrets were encrypted under before this module: kept so that they still decrypt.
PARTNER_SECRETS = b"hirfa partner-key secrets v1"
CIN_DIGESTS = b"hirfa CIN digests v1"
TEXT_MARKS = b"hirfa typed-text marks v1"
REQUEST_CINS = b"hirfa registration-request CINs in sessions v1"
KEY_BYTES = 32


@cache
def derive(secret: str, info: bytes) -> bytes:
    """The 32-byte key for the purpose `info` (cached: the hop path asks for one on every hop)."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(secret.encode())


def cookie_key(settings: Settings) -> bytes:
    return derive(settings.secret_key, COOKIES)


def cookie_fallback_keys(settings: Settings) -> list[bytes]:
    """The cookie keys of the previous secrets: Flask still reads (never signs) cookies under them."""
    return [derive(secret, COOKIES) for secret in settings.secret_key_fallbacks]


def partner_secrets_cipher(settings: Settings) -> MultiFernet:
    """Encrypts under the current secret's key; decrypts under it or any fallback's."""
    secrets = (settings.secret_key, *settings.secret_key_fallbacks)
    return MultiFernet([Fernet(base64.urlsafe_b64encode(derive(secret, PARTNER_SECRETS))) for secret in secrets])


def cin_digest_key(settings: Settings) -> bytes:
    return derive(settings.secret_key, CIN_DIGESTS)


def text_mark_key(settings: Settings) -> bytes:
    return derive(settings.secret_key, TEXT_MARKS)


def request_cin_cipher(settings: Settings) -> MultiFernet:
    """Seals the CIN of a registration request while it waits in the session (Redis) for
    the confirmation; reads what the previous secrets sealed during a rotation."""
    secrets = (settings.secret_key, *settings.secret_key_fallbacks)
    return MultiFernet([Fernet(base64.urlsafe_b64encode(derive(secret, REQUEST_CINS))) for secret in secrets])
