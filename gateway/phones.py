"""Phone numbers, the one place that parses them: every number leaves here in E.164.

One function per job: a caller's number as a channel sends it (`caller_e164`), a number a
person typed (`typed_e164`), a register's or an operator's Moroccan mobile
(`moroccan_mobile`), and the region check of the USSD service (`in_regions`)."""

from __future__ import annotations

import functools
import re
from typing import Final

import phonenumbers
from phonenumbers import PhoneNumber, PhoneNumberType

# 06nnnnnnnn, +2126nnnnnnnn and 2126nnnnnnnn are nearly every row of a register;
# reading them straight into a PhoneNumber skips phonenumbers.parse, the slowest step.
# The number is still judged by phonenumbers' metadata below; anything else is parsed.
CANONICAL_PHONE_RE: Final = re.compile(r"(?:\+212|212|0)([0-9]{9})")
MOBILE_TYPES: Final = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
MOROCCO_CODE: Final = 212
MOROCCO_REGION: Final = "MA"


class InvalidPhone(ValueError):
    """Not a phone number (the message names no digits: it may reach a log)."""


def _e164(number: PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@functools.lru_cache(maxsize=65536)  # the same callers dial again and again; parsing is costly
def caller_e164(raw: str) -> str:
    """A caller's number as an aggregator sends it (international, its `+` optional) in
    E.164; InvalidPhone unless it is a possible number."""
    try:
        number = phonenumbers.parse(raw if raw.startswith("+") else "+" + raw, None)
    except phonenumbers.NumberParseException:
        raise InvalidPhone("not a phone number") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhone("not a possible phone number")
    return _e164(number)


def typed_e164(raw: str) -> str:
    """A number a person typed (national Moroccan form allowed) in E.164; InvalidPhone
    (with phonenumbers' reason) unless it is a valid number."""
    try:
        number = phonenumbers.parse(raw, MOROCCO_REGION)
    except phonenumbers.NumberParseException as error:
        raise InvalidPhone(str(error)) from error
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(f"{raw!r} is not a valid phone number")
    return _e164(number)


def moroccan_mobile(raw: str) -> str | None:
    """`raw` as E.164 (`+2126nnnnnnnn`) if it is a Moroccan mobile number, else None."""
    canonical = CANONICAL_PHONE_RE.fullmatch(raw)
    if canonical is not None:
        number = PhoneNumber(country_code=MOROCCO_CODE, national_number=int(canonical.group(1)))
    else:
        try:
            number = phonenumbers.parse(raw, MOROCCO_REGION)
        except phonenumbers.NumberParseException:
            return None
        if number.country_code != MOROCCO_CODE or number.extension:
            return None
    if phonenumbers.number_type(number) not in MOBILE_TYPES:
        return None
    return _e164(number)


@functools.lru_cache(maxsize=65536)
def in_regions(phone: str, regions: tuple[str, ...]) -> bool:
    """Whether an E.164 `phone` belongs to one of `regions` (ISO codes such as "MA")."""
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.region_code_for_number(number) in regions
