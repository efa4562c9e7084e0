"""Payment references: 10 digits, random (not sequential), ending in a Damm check digit.

The Damm check digit catches every single wrong digit and every swap of two
neighbouring digits, which are the mistakes people make reading a number aloud."""

from __future__ import annotations

import secrets

DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)
LENGTH = 10


def damm_digit(digits: str) -> int:
    interim = 0
    for digit in digits:
        interim = DAMM[interim][int(digit)]
    return interim


def new_reference() -> str:
    # The first digit is never 0 so that the reference survives being read as a number.
    body = str(secrets.randbelow(8 * 10 ** (LENGTH - 2)) + 10 ** (LENGTH - 2))
    return body + str(damm_digit(body))


# What may stand between the digits of a reference as people copy or type it: the
# hyphens it is shown with, spaces and dots, and the marks and no-break spaces of a
# copy from an Arabic screen or SMS.
SEPARATORS = frozenset(" .-\u200e\u200f\u00a0")


def normalise(typed: str) -> str | None:
    """The reference in `typed` (separators ignored) when well formed, else None."""
    digits = "".join(ch for ch in typed if ch not in SEPARATORS)
    if len(digits) != LENGTH or not (digits.isascii() and digits.isdigit()) or damm_digit(digits) != 0:
        return None
    return digits
