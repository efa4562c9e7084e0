"""Payment references as people type or copy them (gateway/payments/references.py)."""

from __future__ import annotations

import pytest

from gateway.payments.references import damm_digit, normalise
from menus.i18n import grouped, keep_order

REFERENCE = "298485914" + str(damm_digit("298485914"))


@pytest.mark.parametrize(
    "typed",
    [
        REFERENCE,
        grouped(REFERENCE),  # as shown: 298-485-914x
        keep_order(grouped(REFERENCE), "ar"),  # copied from an Arabic screen or SMS, its mark included
        f"{REFERENCE[:3]} {REFERENCE[3:6]} {REFERENCE[6:]}",  # as shown before
        f"{REFERENCE[:3]}.{REFERENCE[3:6]}.{REFERENCE[6:]}",
        f"{REFERENCE[:3]}\u00a0{REFERENCE[3:6]}\u00a0{REFERENCE[6:]}",  # no-break spaces
    ],
)
def test_a_reference_is_read_with_or_without_separators(typed: str) -> None:
    assert grouped(REFERENCE) == f"{REFERENCE[:3]}-{REFERENCE[3:6]}-{REFERENCE[6:]}"
    assert normalise(typed) == REFERENCE


@pytest.mark.parametrize("typed", [REFERENCE[:-1] + str((int(REFERENCE[-1]) + 1) % 10), REFERENCE[:9], "298/485/9149"])
def test_a_wrong_reference_is_none(typed: str) -> None:
    assert normalise(typed) is None
