"""Money is integer centimes end to end; shown as `135,00 MAD` or `135.00 درهم`."""

from __future__ import annotations


def format_amount(centimes: int, language: str) -> str:
    sign = "-" if centimes < 0 else ""
    dirhams, rest = divmod(abs(centimes), 100)
    if language == "ar":
        return f"{sign}{dirhams}.{rest:02d} درهم"
    return f"{sign}{dirhams},{rest:02d} MAD"
