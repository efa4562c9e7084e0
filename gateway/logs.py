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
    if len(phone) <= 6:
        return "*" * len(phone)
    return phone[:5] + "*" * (len(phone) - 7) + phone[-2:]


def mask_text(value: str) -> str:
    value = PHONE_RE.sub(lambda m: mask_phone(m.group(0)), value)
    return CIN_RE.sub(lambda m: m.group(0)[:1] + "*" * (len(m.group(0)) - 1), value)


def _mask_field(key: str, value: Any) -> Any:
    if key in PII_FIELDS and isinstance(value, str):
        if "*" in value:  # already masked by the caller
            return value
        return mask_phone(value) if value.startswith("+") else "*" * min(len(value), 8)
    if isinstance(value, str):
        return mask_text(value)
    return value


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
