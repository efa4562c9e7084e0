"""One USSD hop: load the session, work out the new input, run the menu, save.

The adapter turns the engine's reply into its channel's body (USSD text, the voice
line's XML). Per hop: one Redis GET and one pipelined SET; a repeated request (same session,
same text) gets the stored reply byte for byte and runs nothing. The session's first
hop and the hop that sends its last screen are also written down (`journal`, in the
hop's transaction); the hops between write nothing to the database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import astuple, dataclass

from gateway.config import Settings
from gateway.keyring import text_mark_key
from gateway.memo import SessionMemo
from gateway.phones import in_regions
from gateway.ussd.interfaces import Hop, SessionProgress, SessionStore, TextMark, UssdAdapter
from menus.engine import Context, Engine
from menus.i18n import N_

UNAVAILABLE = N_("Service unavailable. Please try again later.")
NOT_MOROCCAN = N_("This service is for Moroccan mobile numbers.")
UNKNOWN_CODE = N_("Unknown service code.")
INVALID_REQUEST = N_("Invalid request. Please dial again.")
TOO_MANY = N_("Too many requests. Please wait a minute.")


@dataclass(frozen=True)
class HopAnswer:
    body: str
    screen: str
    final: bool
    replayed: bool = False


class HopService:
    def __init__(self, *, adapter: UssdAdapter, store: SessionStore, engine: Engine, settings: Settings) -> None:
        self.adapter = adapter
        self.store = store
        self.engine = engine
        self.settings = settings

    def refusal(self, hop: Hop) -> HopAnswer | None:
        """A polite END for callers we do not serve, before any state is touched."""
        codes = self.settings.ussd_service_codes
        if codes and self.adapter.dialled and hop.service_code not in codes:
            return HopAnswer(self.adapter.message(UNKNOWN_CODE, None), "refused", True)
        if not in_regions(hop.phone, self.settings.phone_regions):
            return HopAnswer(self.adapter.message(NOT_MOROCCAN, None), "refused", True)
        return None

    def answer(
        self,
        hop: Hop,
        *,
        context: Callable[[SessionMemo], Context],
        commit: Callable[[], None],
        journal: Callable[[SessionProgress], None] = lambda progress: None,
        seen: Callable[[str], None] = lambda language: None,
    ) -> HopAnswer:
        """Answer `hop`. `context` builds the menus' context around the session's memo
        (what it already read). `journal` writes down the session's first hop and its
        last screen, before `commit`. `seen` learns the caller's language as soon as it
        is known, so that a failure later in the hop can still be answered in it."""
        loaded = self.store.load(self.adapter.name, hop.session_id, hop.phone)
        record, resume = loaded.record, loaded.resume
        limit = self.settings.ussd_hops_per_phone_per_minute
        if limit and loaded.phone_hops > limit:
            # Nothing runs and nothing is saved: the session is as it was for a retry.
            return HopAnswer(self.adapter.message(TOO_MANY, None), "rate_limited", True)
        if record is not None and record.get("phone") != hop.phone:
            record = None  # a session id never carries state across phones
        key = text_mark_key(self.settings)
        previous = TextMark(*record["mark"]) if record is not None else None
        first = record is None or previous is None
        hops = 1 if record is None else int(record.get("hops", 0)) + 1
        if record is None or previous is None:
            memo = SessionMemo()
            ctx = context(memo)
            inputs = self.adapter.new_inputs(None, hop.text, key)
            # A fresh dial (no input yet) may offer to take up the phone's cut-off session.
            reply, state = self.engine.start(ctx, resume=None if inputs else resume)
        else:
            state = record["state"]
            seen(state["lang"])
            if record["final"] or previous.same(hop.text, key):
                # A retry, or anything after the last screen: the same bytes, nothing run.
                return HopAnswer(record["reply"], record["screen"], record["final"], replayed=True)
            memo = SessionMemo(record.get("memo"))
            ctx = context(memo)
            inputs = self.adapter.new_inputs(previous, hop.text, key)
            if not inputs:
                # Nothing to answer (the voice line's `*`, or silence): the screen again, nothing run.
                return HopAnswer(record["reply"], record["screen"], record["final"], replayed=True)
            reply = None
        seen(state["lang"])
        for value in inputs:
            if reply is not None and reply.final:
                break
            reply, state = self.engine.step(ctx, state, value)
        assert reply is not None, "a hop that is not a retry always brings an answer"
        if first or reply.final:
            progress = SessionProgress(
                session_id=hop.session_id,
                phone=hop.phone,
                service_code=hop.service_code,
                network_code=hop.network_code,
                screen=reply.screen,
                language=state["lang"],
                hops=hops,
                final=reply.final and not reply.gave_up,  # a session given up did not complete
            )
            journal(progress)
        commit()
        body = self.adapter.render(reply, language=state["lang"], turn=hops)
        point = self.engine.resume_point(state)
        saved = {
            "phone": hop.phone,
            "mark": list(astuple(TextMark.of(hop.text, key))),
            "reply": body,
            "screen": reply.screen,
            "final": reply.final,
            "state": state,
            "hops": hops,
        }
        if memo.data and not reply.final:  # a finished session only replays its last reply
            saved["memo"] = memo.data
        self.store.save(
            self.adapter.name,
            hop.session_id,
            saved,
            phone=hop.phone,
            resume=None if point is None else {"session": hop.session_id, **point},
            had_resume=resume is not None,
        )
        return HopAnswer(body, reply.screen, reply.final)

    def unavailable(self, language: str | None) -> str:
        return self.adapter.message(UNAVAILABLE, language)
