"""Africa's Talking Voice as a channel of the USSD hop path (gateway/web/ussd.run_hop):
parse a voice callback into a Hop, render the menus' replies as AT's XML.

Not under gateway/ussd/adapters (`/ussd/<name>` cannot load it): the voice view builds
one per request, with what its XML needs (the callback URL and key, the prompts' audio).

Like USSD over SMPP, a callback carries one answer: the `turn` in the callback URL of
each prompt (the hops answered when it was sent) tells a new answer from AT posting
the same one again. The hop's `text` is `<turn>*<digits>`: the same turn and digits
again replay the stored XML and run nothing. `*` (say it again) and no key (silence)
are no input: HopService answers the screen again, nothing run.
"""

from __future__ import annotations

import re
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Mapping

from gateway.phones import InvalidPhone, caller_e164
from gateway.ussd.adapters.africastalking import SESSION_ID
from gateway.ussd.interfaces import Hop, InvalidRequest, SessionEnd, TextMark, ascii_digits
from gateway.ussd.service import INVALID_REQUEST, NOT_MOROCCAN, TOO_MANY, UNAVAILABLE
from gateway.voice import xml
from gateway.voice.audio import PromptAudio
from gateway.voice.played import PlayedPrompts
from gateway.voice.service import FINISH, REPEAT, offer
from gateway.voice.speech import Clip, one_key, say, speak
from menus.engine import Reply
from menus.languages import VOICE
from menus.paging import Budget

TURN = re.compile(r"^[0-9]{1,6}$")
DIGITS = re.compile(r"^[0-9*#]{0,64}$")
NUMBER = re.compile(r"^\+?[0-9]{3,20}$")
AMOUNT = re.compile(r"^[0-9]{1,12}(?:\.[0-9]{1,6})?$")
# What HopService and the voice view may say as a call's last word.
LAST_WORDS = (UNAVAILABLE, NOT_MOROCCAN, TOO_MANY, INVALID_REQUEST)
# One screen is one prompt: nothing is paged on the ear.
UNPAGED = Budget(gsm7=1_000_000, other=1_000_000)


def _number(form: Mapping[str, str], name: str) -> str:
    value = (form.get(name) or "").strip()
    if not NUMBER.match(value):
        raise InvalidRequest(f"malformed field: {name}")
    return value


class VoiceAdapter:
    name = "voice"
    budget = UNPAGED
    dialled = False  # a number is called: USSD_SERVICE_CODES does not apply
    channel = VOICE

    def __init__(
        self,
        *,
        audio: PromptAudio,
        url: str,
        key: str,
        languages: tuple[str, ...],
        answer_seconds: int,
        played: PlayedPrompts | None = None,
    ) -> None:
        self.audio = audio
        self.played = played  # counts the prompts by source (and in development, their transcripts)
        self.url = url
        self.key = key
        self.languages = languages  # those offered: a last word to an unknown caller is said in each
        self.answer_seconds = answer_seconds

    # -- callbacks -------------------------------------------------------------------
    def callback(self, turn: int, silence: int | None = None) -> str:
        query = {"key": self.key, "turn": str(turn)}
        if silence is not None:
            query["silence"] = str(silence)
        return f"{self.url}?{urllib.parse.urlencode(query)}"

    def parse_hop(self, form: Mapping[str, str]) -> Hop:
        """A voice callback (its form, and `turn` from its URL when it answers a prompt)."""
        session_id = (form.get("sessionId") or "").strip()
        if not SESSION_ID.match(session_id):
            raise InvalidRequest("malformed field: sessionId")
        outbound = (form.get("direction") or "").strip().lower() == "outbound"
        caller, called = _number(form, "callerNumber"), _number(form, "destinationNumber")
        try:
            phone = caller_e164("+" + (called if outbound else caller).lstrip("+"))
        except InvalidPhone:
            raise InvalidRequest("malformed field: callerNumber") from None
        digits = ascii_digits((form.get("dtmfDigits") or "").strip())
        if not DIGITS.match(digits):
            raise InvalidRequest("malformed field: dtmfDigits")
        turn = (form.get("turn") or "").strip()
        if turn and not TURN.match(turn):
            raise InvalidRequest("malformed field: turn")
        text = f"{int(turn)}*{digits.removesuffix(FINISH)}" if turn else ""
        number = caller if outbound else called  # the number called, in the service code's place
        return Hop(session_id=session_id, phone=phone, service_code=number, network_code="", text=text)

    def parse_session_end(self, form: Mapping[str, str]) -> SessionEnd:
        """The call's last callback (isActive=0). Its status is ours to tell (the view)."""
        hop = self.parse_hop({**form, "turn": "", "dtmfDigits": ""})
        seconds = (form.get("durationInSeconds") or "").strip()
        if seconds and not (seconds.isascii() and seconds.isdigit() and len(seconds) <= 7):
            raise InvalidRequest("malformed field: durationInSeconds")
        amount, currency = (form.get("amount") or "").strip(), (form.get("currencyCode") or "").strip()
        if (amount and not AMOUNT.match(amount)) or not re.match(r"^[A-Z]{0,3}$", currency):
            raise InvalidRequest("malformed field: amount")
        return SessionEnd(
            session_id=hop.session_id,
            phone=hop.phone,
            service_code=hop.service_code,
            network_code="",
            status="",
            duration_ms=int(seconds) * 1000 if seconds else None,
            hops_count=None,
            error_message=(form.get("hangupCause") or "").strip()[:255] or None,
            cost=f"{currency} {amount}".strip()[:32] or None,
            reported_at=None,
        )

    def new_inputs(self, previous: TextMark | None, text: str, key: bytes) -> list[str]:
        if previous is None:
            return []  # the first hop is the start of the menus (the language chosen before)
        answer = text.partition("*")[2]
        return [] if answer in ("", REPEAT) else [answer]

    # -- replies ---------------------------------------------------------------------
    def _plays(self, clips: list[Clip]) -> list[ET.Element]:
        urls = [self.audio.url(clip) for clip in clips]
        if self.played is not None:
            self.played.note([(url, clip, self.audio.source(clip)) for url, clip in zip(urls, clips, strict=True)])
        return [xml.play(url) for url in urls]

    def ask(self, clips: list[Clip], *, turn: int, one: bool) -> str:
        """Play `clips` and wait for keys (posted with `turn`); none: the callback with &silence=1."""
        return xml.response(
            xml.get_digits(
                self._plays(clips),
                callback_url=self.callback(turn),
                timeout=self.answer_seconds,
                finish_on_key=FINISH,
                num_digits=1 if one else None,
            ),
            xml.redirect(self.callback(turn, silence=1)),
        )

    def after_silence(self, body: str, turn: int) -> str:
        """A prompt said again after a silence: a second silence comes back as `&silence=2`."""
        return xml.with_redirect(body, self.callback(turn, silence=1), self.callback(turn, silence=2))

    def render(self, reply: Reply, *, language: str, turn: int) -> str:
        clips = speak(reply, language)
        if reply.final:
            return self.play(clips)
        return self.ask(clips, turn=turn, one=one_key(reply))

    def message(self, message: str, language: str | None) -> str:
        languages = (language,) if language else self.languages
        return self.play([clip for code in languages for clip in say(message, code)])

    def play(self, clips: list[Clip]) -> str:
        """Play `clips`, then nothing: AT hangs up."""
        return xml.response(*self._plays(clips))

    def offer(self) -> str:
        """The call's first prompt: each offered language announced in itself, with its key."""
        return self.ask(offer_clips(self.languages), turn=0, one=True)


def offer_clips(languages: tuple[str, ...]) -> list[Clip]:
    """The language offer said: each language in itself ("Pour continuer en Français, tapez 2")."""
    return speak(Reply(text="", final=False, screen="language_offer", actions=offer(languages)), languages[0])
