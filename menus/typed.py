"""What callers type that several screens read the same way (a CIN, a year of birth), and
how a number is shown back masked."""

from __future__ import annotations

import datetime as dt
import re

CIN_PATTERN = re.compile(r"^[A-Z]{1,2}[0-9]{1,7}$")


def read_cin(value: str) -> str | None:
    """The CIN typed (spaces, dots and dashes dropped, upper case), None when malformed."""
    cin = re.sub(r"[\s.-]", "", value).upper()
    return cin if CIN_PATTERN.match(cin) else None


def read_birth_year(value: str, today: dt.date) -> int | None:
    if value.isascii() and value.isdigit() and len(value) == 4 and 1900 <= int(value) <= today.year:
        return int(value)
    return None


def mask_tail(value: str, keep: int = 4) -> str:
    """Last digits only, behind a short fixed mask (a screen has no room to spare)."""
    return "**" + value[-keep:] if len(value) > keep else value


# A day kept in a session's params (an answer's "since"), as the screens once showed it.
STORED_DAY = "%d/%m/%Y"


def store_day(day: dt.date) -> str:
    return f"{day:{STORED_DAY}}"


def read_day(value: str) -> dt.date | None:
    parts = value.split("/")
    if len(parts) != 3 or not all(part.isascii() and part.isdigit() for part in parts):
        return None
    try:
        return dt.date(int(parts[2]), int(parts[1]), int(parts[0]))
    except ValueError:
        return None
