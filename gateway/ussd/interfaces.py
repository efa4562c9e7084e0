"""What every aggregator adapter and session store provides."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from menus.engine import Reply
from menus.i18n import Translator
from menus.paging import Budget


class InvalidRequest(ValueError):
    """A callback with missing or malformed fields: answered 400, nothing touched."""


@dataclass(frozen=True)
class Hop:
    session_id: str
    phone: str  # E.164
    service_code: str
    network_code: str
    text: str  # as typed, its digits in ASCII (`ascii_digits`)


def ascii_digits(text: str) -> str:
    """`text` with every Unicode decimal digit in ASCII: phones set to Arabic send
    Arabic-Indic or Extended Arabic-Indic digits, and the menus read 0-9 only. One
    character for one, so the length (and the TextMark of a retry) is the same whichever
    digits arrive. Characters that merely look like digits (superscripts ¹²³, circled ①)
    are no decimal digits: they stay, and a screen expecting digits refuses them as any
    wrong answer."""
    if text.isascii():
        return text
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text)


@dataclass(frozen=True)
class SessionEnd:
    session_id: str
    phone: str
    service_code: str
    network_code: str
    status: str
    duration_ms: int | None
    hops_count: int | None
    error_message: str | None
    cost: str | None
    reported_at: dt.datetime | None


@dataclass(frozen=True)
class SessionProgress:
    """What Hirfa writes down of a session on its first hop and on its last screen: the
    screen id, the language and the hops answered so far, never what the user typed."""

    session_id: str
    phone: str
    service_code: str
    network_code: str
    screen: str
    language: str
    hops: int
    final: bool  # it reached its last screen (not ended by too many wrong answers)


@dataclass(frozen=True)
class TextMark:
    """What we keep of the last `text` seen: its length and a keyed digest, never the
    text itself (it holds whatever the user typed: a CIN, a PIN). 128 bits of the
    digest tell a retry from new input as surely as 256, in half the bytes of Redis."""

    length: int
    digest: str

    @classmethod
    def of(cls, text: str, key: bytes) -> TextMark:
        return cls(len(text), hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:32])

    def same(self, text: str, key: bytes) -> bool:
        # Compared on the stored length: marks saved whole before this cut still match.
        digest = hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[: len(self.digest)]
        return len(text) == self.length and len(self.digest) >= 32 and hmac.compare_digest(digest, self.digest)


def bilingual(message: str) -> str:
    """A message for a caller whose language we do not know yet: Arabic, then French."""
    return "\n".join(Translator(language)(message) for language in ("ar", "fr"))


def last_word(message: str, language: str | None) -> str:
    """A catalogue message in `language`, else in both screen languages."""
    return Translator(language)(message) if language else bilingual(message)


class UssdAdapter(Protocol):
    """One channel's wire protocol (an aggregator's USSD, or the voice line). A new
    aggregator is a new module with `adapter`."""

    name: str
    budget: Budget
    # A USSD code is dialled (USSD_SERVICE_CODES applies); False for a call to a number.
    dialled: bool
    # The menus' channel (menus.languages: "screen" or "voice") and the languages offered
    # on it (empty: every language of the channel).
    channel: str
    languages: tuple[str, ...]

    def parse_hop(self, form: Mapping[str, str]) -> Hop:
        """Read a hop callback, its text through `ascii_digits`; raise InvalidRequest on
        missing or malformed fields."""

    def parse_session_end(self, form: Mapping[str, str]) -> SessionEnd:
        """Read an end-of-session notification; raise InvalidRequest when malformed."""

    def new_inputs(self, previous: TextMark | None, text: str, key: bytes) -> list[str]:
        """What the user typed since the last hop (`previous` marks its text; None: first hop)."""

    def render(self, reply: Reply, *, language: str, turn: int) -> str:
        """The response body for a screen of the menus in `language`; `turn` counts the
        hops answered in this session, this one included (the voice line asks for the
        next keys with it, so that a repeated callback is told from a new one)."""

    def message(self, message: str, language: str | None) -> str:
        """The response body of a last word (a catalogue message, the session ends): in
        `language`, or in the channel's languages when the caller's is not known yet."""


@dataclass(frozen=True)
class Loaded:
    """What one hop reads: its session's record, the phone's resume point, and how many
    hops the phone made this minute (this one included; 0 when it only looked)."""

    record: dict[str, Any] | None
    resume: dict[str, Any] | None
    phone_hops: int


class SessionStore(Protocol):
    """Live USSD session records, shared by every process, and each phone's resume
    point (where its last session, cut off mid-flow, can be taken up again)."""

    def load(self, aggregator: str, session_id: str, phone: str, *, hop: bool = True) -> Loaded:
        """`hop`: a hop of the phone's, counted for its rate limit (False: only a look)."""

    def save(
        self,
        aggregator: str,
        session_id: str,
        record: dict[str, Any],
        *,
        phone: str,
        resume: dict[str, Any] | None,
        had_resume: bool,
    ) -> None: ...

    def keep_resume(self, aggregator: str, phone: str) -> None: ...
