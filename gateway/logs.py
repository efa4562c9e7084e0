"""Structured JSON logs with personal data (phones, CINs, names) masked."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
from typing import Any

# Safety net for anything that slips into a message: Moroccan-style phone numbers
# and CIN-shaped tokens are masked even when a caller forgot to.
PHONE_RE = re.compile(r"\+?\d[\d ]{7,14}\d")
CIN_RE = re.compile(r"\b[A-Z]{1,2}\d{4,7}\b")
PII_FIELDS = frozenset({"phone", "phoneNumber", "recipient", "cin", "first_name", "last_name", "name", "text"})
STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


def mask_phone(phone: str) -> str:
    """+212600000001 -> +2126******01: enough to tell numbers apart in a log, no more."""
    keep = 5 if phone.startswith("+") else 2
    if len(phone) <= max(keep + 2, 6):
        return "*" * len(phone)
    return phone[:keep] + "*" * (len(phone) - keep - 2) + phone[-2:]


def mask_name(first_name: str, last_name: str) -> str:
    """`Youssef`, `Alaoui` -> `Youssef A.`: what a cashier or a network's system is shown to
    recognise the person in front of them, and no more (the family name stays hidden).
    Log lines show less: name fields are starred whole."""
    first = first_name.strip()
    initial = last_name.strip()[:1]
    return f"{first} {initial}." if initial else first


def mask_text(value: str) -> str:
    value = PHONE_RE.sub(lambda m: mask_phone(m.group(0)), value)
    return CIN_RE.sub(lambda m: m.group(0)[:1] + "*" * (len(m.group(0)) - 1), value)


def _mask_field(key: str, value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if key in PII_FIELDS:
        # Masking is idempotent: a value the caller masked already comes out the same.
        return mask_phone(text) if text.startswith("+") else "*" * min(len(text), 8)
    return mask_text(text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": mask_text(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in STANDARD and not key.startswith("_"):
                entry[key] = _mask_field(key, value)
        if record.exc_info:
            entry["exc"] = mask_text(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
