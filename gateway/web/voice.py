"""The voice line: `POST /voice/africastalking?key=…`, Africa's Talking Voice callbacks.

Every answer is AT's XML with HTTP 200, failures included (a short spoken "service
unavailable"); refusals are XML too (403 bad key or address: `<Reject/>`; 400 malformed).
The menus run through the USSD hop path (`run_hop`: the session in Redis, replays, rate
limits, caller-number rules, the journal, metrics by screen), with the voice adapter.

A call: the first callback (no `turn`) gets the language offer; the key chosen (turn 0)
starts the menus in that language; each later callback answers the prompt of its
`turn`. No key: the prompt's Redirect comes back with `&silence=1`, answered by the
prompt again (its Redirect now `&silence=2`); a second silence ends the call politely.
`isActive=0` closes the call's row in `ussd_session_outcomes` (aggregator `voice`):
`Success` when the menus sent their last screen, else `Incomplete` (the phone's resume
point is kept, as after USSD's `Incomplete` report).
"""

from __future__ import annotations

import dataclasses
import logging
import uuid

from flask import Blueprint, Response, abort, request
from werkzeug.exceptions import HTTPException

from gateway.db import get_db, rollback
from gateway.logs import mask_phone
from gateway.metrics import ERRORS, HOPS, REJECTED
from gateway.ussd.interfaces import Hop, InvalidRequest, SessionEnd
from gateway.ussd.outcomes import record_session_end
from gateway.ussd.service import INVALID_REQUEST, UNAVAILABLE, HopService
from gateway.voice import xml
from gateway.voice.adapter import VoiceAdapter
from gateway.voice.calls import call_message, record_outcome
from gateway.voice.service import NO_ANSWER, VOICE_LANGUAGES, chosen
from gateway.voice.speech import speak_text
from gateway.web.auth import callback_refusal, limit_per_ip, retry_after_header
from gateway.web.ussd import run_hop, trace_without_messages
from gateway.wiring import hirfa, played_prompts, prompt_audio
from menus.i18n import SpokenTranslator, Translator
from menus.languages import VOICE, for_channel
from menus.menu import MENU

log = logging.getLogger(__name__)
bp = Blueprint("voice", __name__)


@bp.errorhandler(HTTPException)
def refused(error: HTTPException) -> Response:
    """A refused callback (bad key, address, too many reports) is still XML AT reads: a rejection."""
    response = _xml(xml.response(xml.reject()), error.code or 400)
    response.headers.update(retry_after_header(error))
    return response


def _xml(body: str, status: int = 200) -> Response:
    return Response(body, status=status, content_type=xml.CONTENT_TYPE)


def _adapter() -> VoiceAdapter:
    settings = hirfa().settings
    audio = prompt_audio()
    return VoiceAdapter(
        audio=audio,
        url=request.base_url,
        key=request.args.get("key", ""),
        languages=tuple(code for code in VOICE_LANGUAGES if audio.offered(code)),
        answer_seconds=settings.voice_answer_seconds,
        played=played_prompts(),
    )


@bp.post("/voice/africastalking")
def call() -> Response:
    settings = hirfa().settings
    reason = callback_refusal(
        settings, key=request.args.get("key", ""), remote_addr=request.remote_addr, keys=settings.voice_callback_keys
    )
    if reason is not None:
        REJECTED.labels("voice", reason).inc()
        log.warning("callback refused", extra={"endpoint": "voice", "reason": reason})
        abort(403)
    fields = {**request.form.to_dict(), "turn": request.args.get("turn", "")}
    if fields.get("isActive", "1").strip() == "0":
        return _ended(fields)
    language: str | None = None
    try:
        adapter = _adapter()
        if not adapter.languages:
            # Production offers a language only once its prompts are all recorded, unless
            # VOICE_OFFER_SYNTHESISED: none yet, AT's own voice says so (nothing of ours to play).
            log.warning("no voice language can be offered: record the prompts (flask voice coverage)")
            HOPS.labels("voice", "no_language", "end").inc()
            return _xml(_unavailable(VOICE_LANGUAGES))
        try:
            hop = adapter.parse_hop(fields)
        except InvalidRequest as error:
            REJECTED.labels("voice", "invalid").inc()
            log.warning("voice callback refused", extra={"reason": str(error)})
            return _xml(adapter.message(INVALID_REQUEST, None), 400)
        silence = request.args.get("silence", "")
        if not hop.text and not fields["turn"]:
            if _outbound(fields):
                called = _called(adapter, hop)
                if called is not None:
                    return _xml(called)
            return _xml(_start(adapter, hop))
        if fields["turn"] == "0":
            return _xml(_offer_answered(adapter, hop, silence))
        if silence not in ("", "1"):
            language = _language_of(adapter, hop)
            HOPS.labels(adapter.name, "silence", "end").inc()
            return _xml(adapter.message(NO_ANSWER, language))
        answer = run_hop(adapter, hop)
        if silence and not answer.final:
            turn = int(fields["turn"])
            return _xml(
                xml.with_redirect(answer.body, adapter.callback(turn, silence=1), adapter.callback(turn, silence=2))
            )
        return _xml(answer.body)
    except Exception as error:
        # run_hop answers the menus' failures itself; this is for the rest (the prompts'
        # audio, the session store): AT's own text-to-speech, which needs nothing of ours.
        log.error(
            "voice callback failed",
            extra={
                "correlation_id": uuid.uuid4().hex,
                "phone": mask_phone(fields.get("callerNumber", "")),
                "error": type(error).__qualname__,
                "trace": trace_without_messages(error),
            },
        )
        rollback()
        ERRORS.labels("voice", "unknown", "exception").inc()
        return _xml(_unavailable((language,) if language else VOICE_LANGUAGES))


def _unavailable(languages: tuple[str, ...]) -> str:
    """ "Service unavailable" said by AT's own text-to-speech: it needs no audio of ours."""
    return xml.response(*(xml.say(Translator(code)(UNAVAILABLE)) for code in languages))


def _outbound(fields: dict[str, str]) -> bool:
    return fields.get("direction", "").strip().lower() == "outbound"


def _called(adapter: VoiceAdapter, hop: Hop) -> str | None:
    """A call of ours answered (a reminder, a reimbursement ready: gateway/voice/calls.py):
    its message in the artisan's voice language, then AT hangs up. None: not one of ours
    (the menus then, as for a call in)."""
    app = hirfa()

    def spoken(code: str) -> Translator:
        return SpokenTranslator(for_channel(code, VOICE, app.settings.default_language))

    message = call_message(
        get_db(), settings=app.settings, now=app.clock(), session_id=hop.session_id, translator=spoken
    )
    if message is None:
        return None
    HOPS.labels(adapter.name, "call_out", "end").inc()
    language = for_channel(message.language, VOICE, app.settings.default_language)
    return adapter.play(speak_text(message.text, language))


def _service(adapter: VoiceAdapter) -> HopService:
    app = hirfa()
    return HopService(adapter=adapter, store=app.session_store, engine=MENU, settings=app.settings)


def _start(adapter: VoiceAdapter, hop: Hop) -> str:
    """The call's first callback: the language offer, or the menus at once when one language is offered."""
    refusal = _service(adapter).refusal(hop)
    if refusal is not None:
        HOPS.labels(adapter.name, refusal.screen, "end").inc()
        return refusal.body
    if len(adapter.languages) == 1:
        return run_hop(adapter, hop, language=adapter.languages[0]).body
    HOPS.labels(adapter.name, "language_offer", "con").inc()
    return adapter.offer()


def _offer_answered(adapter: VoiceAdapter, hop: Hop, silence: str) -> str:
    """The key pressed at the language offer: the menus in that language (their first
    hop: posted again, it replays), else the offer again, or after a second silence, goodbye."""
    language = chosen(hop.text.partition("*")[2], adapter.languages)
    if language is not None:
        return run_hop(adapter, dataclasses.replace(hop, text=""), language=language).body
    if silence not in ("", "1"):
        HOPS.labels(adapter.name, "language_offer", "end").inc()
        return adapter.message(NO_ANSWER, None)
    HOPS.labels(adapter.name, "language_offer", "con").inc()
    offer = adapter.offer()
    return (
        xml.with_redirect(offer, adapter.callback(0, silence=1), adapter.callback(0, silence=2)) if silence else offer
    )


def _language_of(adapter: VoiceAdapter, hop: Hop) -> str | None:
    record = hirfa().session_store.load(adapter.name, hop.session_id, hop.phone, hop=False).record
    state = record.get("state", {}) if record else {}
    language = state.get("lang")
    return str(language) if language else None


def _ended(fields: dict[str, str]) -> Response:
    """isActive=0: the call's outcome and duration on its row, like USSD's end-of-session report."""
    app = hirfa()
    limit_per_ip("callbacks", app.settings.callbacks_per_ip_per_minute)
    adapter = _adapter()
    try:
        event = adapter.parse_session_end(fields)
    except InvalidRequest as error:
        REJECTED.labels("voice_end", "invalid").inc()
        log.warning("voice end refused", extra={"reason": str(error)})
        return _xml(xml.response(), 400)
    if _outbound(fields):
        return _call_out_ended(event, fields)
    record = None
    try:
        loaded = app.session_store.load(adapter.name, event.session_id, event.phone, hop=False)
        record = loaded.record
        if not (record and record.get("final")) and (loaded.resume or {}).get("session") == event.session_id:
            app.session_store.keep_resume(adapter.name, event.phone)
    except Exception:
        log.warning("session store unavailable for the end of a call", exc_info=True)
    status = "Success" if record and record.get("final") else "Incomplete"
    try:
        event = dataclasses.replace(event, status=status)
        record_session_end(get_db(), aggregator=adapter.name, event=event, record=record, now=app.clock())
    except Exception:
        # Logged, and answered 200 all the same: never a 5xx to an aggregator.
        log.exception("call end not stored", extra={"correlation_id": uuid.uuid4().hex})
        rollback()
    return _xml(xml.response())


def _call_out_ended(event: SessionEnd, fields: dict[str, str]) -> Response:
    """isActive=0 of a call of ours: its outcome on the call's row (answered; else retried
    once, then an SMS instead: gateway/voice/calls.py)."""
    app = hirfa()
    try:
        duration = event.duration_ms // 1000 if event.duration_ms is not None else None
        status = fields.get("status", "").strip()[:32]
        record_outcome(
            get_db(),
            event.session_id,
            status,
            duration,
            settings=app.settings,
            now=app.clock(),
            hangup_cause=event.error_message,
        )
        get_db().commit()
    except Exception:
        log.exception("call outcome not stored", extra={"correlation_id": uuid.uuid4().hex})
        rollback()
    return _xml(xml.response())
