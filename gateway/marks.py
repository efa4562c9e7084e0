"""Keyed marks (HMAC-SHA256) of what people type: the text of a hop, a new PIN waiting for
its confirmation. A mark tells whether the same text comes again; without the key it
tells nothing of the text, however few values it may take (a PIN has a million at most)."""

from __future__ import annotations

import hashlib
import hmac


def mark(key: bytes, purpose: str, text: str) -> str:
    """The hex mark of `text` for `purpose` (marks of one purpose never match another's)."""
    return hmac.new(key, f"{purpose}\x00{text}".encode(), hashlib.sha256).hexdigest()


def same_mark(key: bytes, purpose: str, text: str, expected: str) -> bool:
    return hmac.compare_digest(mark(key, purpose, text), expected)
