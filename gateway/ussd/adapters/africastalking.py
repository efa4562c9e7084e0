"""Africa's Talking: form POST callbacks, `text` holds every input joined by `*`."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

from gateway.phones import InvalidPhone, caller_e164
from gateway.ussd.interfaces import Hop, InvalidRequest, SessionEnd, TextMark, ascii_digits, last_word
from menus.engine import Reply
from menus.languages import SCREEN
from menus.paging import Budget

SESSION_ID = re.compile(r"^[A-Za-z0-9_\-.:]{1,128}$")
SERVICE_CODE = re.compile(r"^[*#0-9]{1,32}$")
NETWORK_CODE = re.compile(r"^[0-9]{0,16}$")
MAX_TEXT = 1000


def _field(form: Mapping[str, str], name: str, pattern: re.Pattern[str] | None = None, required: bool = True) -> str:
    value = form.get(name)
    if value is None:
        if required:
            raise InvalidRequest(f"missing field: {name}")
        return ""
    value = value.strip()
    if pattern is not None and not pattern.match(value):
        raise InvalidRequest(f"malformed field: {name}")
    return value


def _phone(form: Mapping[str, str]) -> str:
    """E.164 form of the caller's number; AT sends it with its `+`."""
    try:
        return caller_e164(_field(form, "phoneNumber"))
    except InvalidPhone:
        raise InvalidRequest("malformed field: phoneNumber") from None


def _optional_int(form: Mapping[str, str], name: str) -> int | None:
    raw = (form.get(name) or "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        raise InvalidRequest(f"malformed field: {name}")
    return int(raw)


class AfricasTalkingAdapter:
    name = "africastalking"
    budget = Budget(gsm7=160, other=80)
    dialled = True
    channel = SCREEN
    languages: tuple[str, ...] = ()

    def parse_hop(self, form: Mapping[str, str]) -> Hop:
        text = form.get("text")
        if text is None:
            raise InvalidRequest("missing field: text")
        if len(text) > MAX_TEXT or any(ch in text for ch in "\x00\r"):
            raise InvalidRequest("malformed field: text")
        return Hop(
            session_id=_field(form, "sessionId", SESSION_ID),
            phone=_phone(form),
            service_code=_field(form, "serviceCode", SERVICE_CODE),
            network_code=_field(form, "networkCode", NETWORK_CODE, required=False),
            text=ascii_digits(text.strip()),
        )

    def parse_session_end(self, form: Mapping[str, str]) -> SessionEnd:
        reported_at = None
        date = (form.get("date") or "").strip()
        if date:
            try:
                reported_at = dt.datetime.fromisoformat(date)
            except ValueError:
                raise InvalidRequest("malformed field: date") from None
            if reported_at.tzinfo is None:  # AT reports UTC without a zone
                reported_at = reported_at.replace(tzinfo=dt.UTC)
        status = _field(form, "status")
        if not status or len(status) > 32:
            raise InvalidRequest("malformed field: status")
        return SessionEnd(
            session_id=_field(form, "sessionId", SESSION_ID),
            phone=_phone(form),
            service_code=_field(form, "serviceCode", SERVICE_CODE, required=False),
            network_code=_field(form, "networkCode", NETWORK_CODE, required=False),
            status=status,
            duration_ms=_optional_int(form, "durationInMillis"),
            hops_count=_optional_int(form, "hopsCount"),
            error_message=(form.get("errorMessage") or "").strip()[:255] or None,
            cost=(form.get("cost") or "").strip()[:32] or None,
            reported_at=reported_at,
        )

    def new_inputs(self, previous: TextMark | None, text: str, key: bytes) -> list[str]:
        if previous is None:
            # First hop: empty, or a dial string like *4242*1# whose parts arrive at once.
            return text.split("*") if text else []
        if previous.length == 0:
            return [text]
        head, separator = text[: previous.length], text[previous.length : previous.length + 1]
        if separator == "*" and previous.same(head, key):
            # Whatever follows is one answer, even when the user typed `*` in it.
            return [text[previous.length + 1 :]]
        # The history does not extend what we saw (a network rewrote it): the last part.
        return [text.rsplit("*", 1)[-1]]

    def render(self, reply: Reply, *, language: str, turn: int) -> str:
        return ("END " if reply.final else "CON ") + reply.text

    def message(self, message: str, language: str | None) -> str:
        return "END " + last_word(message, language)


adapter = AfricasTalkingAdapter()
