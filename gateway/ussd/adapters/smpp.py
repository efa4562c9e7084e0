"""USSD over SMPP (`ussd_service_op`), read by the SMPP process (gateway/smpp_app.py).

SMPP carries one answer per deliver_sm, not Africa's Talking's cumulative `text`. The
edge hands `parse_hop` a form of strings:
- `session`: the session id the edge chose (a fresh one per dial);
- `source`: the caller's MSISDN; `code`: the dial string on the first hop, else empty;
- `turn`: what tells a retransmitted deliver_sm from a new answer (the dialogue sequence of
  its_session_info, else the PDU's sequence number); `answer`: what the caller typed.
The hop's `text` is `<turn>*<answer>`: the same answer twice with one turn is a retry
(HopService replays its screen and runs nothing); `1` then `1` on two turns are two
inputs. On the first hop `text` is what the dial string carries past the service code
(`*4242*2#` -> `2`), as Africa's Talking sends it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from gateway.phones import InvalidPhone, caller_e164
from gateway.ussd.interfaces import Hop, InvalidRequest, SessionEnd, TextMark, ascii_digits, last_word
from menus.engine import Reply
from menus.languages import SCREEN
from menus.paging import Budget

DIAL = re.compile(r"^\*([0-9]{1,10})((?:\*[0-9]{1,32}){0,8})#$")
TURN = re.compile(r"^[0-9]{1,10}$")
MAX_ANSWER = 182  # a USSD string's longest


class SmppUssdAdapter:
    name = "smpp"
    budget = Budget(gsm7=160, other=80)
    dialled = True
    channel = SCREEN
    languages: tuple[str, ...] = ()

    def parse_hop(self, form: Mapping[str, str]) -> Hop:
        try:
            phone = caller_e164("+" + form.get("source", "").lstrip("+"))
        except InvalidPhone:
            raise InvalidRequest("malformed field: source") from None
        session = form.get("session", "")
        if not session or len(session) > 128:
            raise InvalidRequest("malformed field: session")
        code = form.get("code", "")
        if code:
            dial = DIAL.match(code.strip())
            if dial is None:
                raise InvalidRequest("malformed field: code")
            service_code, text = f"*{dial.group(1)}#", dial.group(2).removeprefix("*")
        else:
            turn, answer = form.get("turn", ""), form.get("answer", "")
            if not TURN.match(turn) or len(answer) > MAX_ANSWER or any(ch in answer for ch in "\x00\r"):
                raise InvalidRequest("malformed field: answer")
            service_code, text = form.get("service_code", ""), f"{turn}*{ascii_digits(answer.strip())}"
        return Hop(session_id=session, phone=phone, service_code=service_code, network_code="", text=text)

    def parse_session_end(self, form: Mapping[str, str]) -> SessionEnd:
        raise InvalidRequest("SMPP reports no session end: a cut-off is seen by the SMPP process")

    def new_inputs(self, previous: TextMark | None, text: str, key: bytes) -> list[str]:
        if previous is None:
            return text.split("*") if text else []
        return [text.partition("*")[2]]

    def render(self, reply: Reply, *, language: str, turn: int) -> str:
        return reply.text  # finality travels as ussd_service_op 17 / 2

    def message(self, message: str, language: str | None) -> str:
        return last_word(message, language)


def is_dial(text: str) -> bool:
    return DIAL.match(text.strip()) is not None


adapter = SmppUssdAdapter()
