"""USSD callbacks: `/ussd/<aggregator>` hops and `/ussd/<aggregator>/events`.

Hops reach `run_hop` through the lean WSGI handler in front of Flask
(gateway/web/hop_wsgi.py); its route here only builds URLs (the simulator's)."""

from __future__ import annotations

import logging
import time
import traceback
import uuid
from collections.abc import Mapping

from flask import Blueprint, Response, request
from werkzeug.exceptions import Forbidden, HTTPException, NotFound

from gateway.db import commit_if_used, get_db, rollback
from gateway.logs import mask_phone
from gateway.metrics import ERRORS, HOP_SECONDS, HOPS, REJECTED
from gateway.riders import riding
from gateway.ussd.adapters import load_adapter
from gateway.ussd.interfaces import Hop, InvalidRequest, UssdAdapter, bilingual
from gateway.ussd.outcomes import record_hop, record_session_end
from gateway.ussd.service import INVALID_REQUEST, HopAnswer, HopService
from gateway.web.auth import callback_refusal, limit_per_ip, retry_after_header
from gateway.wiring import hirfa, menu_context
from menus.menu import MENU

log = logging.getLogger(__name__)
bp = Blueprint("ussd", __name__)
# Aggregator statuses of a session that ended without our END: it may be resumed.
CUT_OFF = frozenset({"Incomplete", "Failed"})


@bp.errorhandler(HTTPException)
def refused(error: HTTPException) -> Response:
    """Refusals (bad key, unknown aggregator, body too large) still read as a last screen:
    whatever reaches a phone is `END` and a short text in both languages."""
    response = _plain(refusal_body(), error.code or 400)
    response.headers.update(retry_after_header(error))
    return response


def refusal_body() -> str:
    return "END " + bilingual(INVALID_REQUEST)


def _plain(body: str, status: int = 200) -> Response:
    return Response(body, status=status, content_type="text/plain; charset=utf-8")


def authorised_adapter(aggregator: str, endpoint: str, *, key: str, remote_addr: str | None) -> UssdAdapter:
    """The aggregator's adapter, if the callback may use it; else NotFound or Forbidden."""
    adapter = load_adapter(aggregator)
    if adapter is None or adapter.name == "smpp":  # USSD over SMPP comes in through `flask smpp run` only
        raise NotFound()
    reason = callback_refusal(hirfa().settings, key=key, remote_addr=remote_addr)
    if reason is not None:
        REJECTED.labels(endpoint, reason).inc()
        log.warning("callback refused", extra={"endpoint": endpoint, "reason": reason})
        raise Forbidden()
    return adapter


# Served by gateway/web/hop_wsgi.py before Flask routes anything: here for url_for only.
bp.add_url_rule("/ussd/<aggregator>", "hop", methods=["POST"], build_only=True)


def answer_form(adapter: UssdAdapter, form: Mapping[str, str]) -> tuple[int, str]:
    """The status and body answering a hop's form (the lean handler's, parsed)."""
    try:
        parsed = adapter.parse_hop(form)
    except InvalidRequest as error:
        # Still a screen the phone can show (the status tells a person reading logs).
        REJECTED.labels("hop", "invalid").inc()
        log.warning("hop refused", extra={"reason": str(error)})
        return 400, adapter.message(INVALID_REQUEST, None)
    return 200, run_hop(adapter, parsed).body


def run_hop(adapter: UssdAdapter, parsed: Hop, *, language: str | None = None) -> HopAnswer:
    """Answer one parsed hop in an app context (this view, the SMPP process for USSD
    over SMPP, the voice line): refusals, the menus, metrics by screen, a polite END on
    failure. `language`: chosen before the menus (the voice line's offer), for a first hop."""
    app = hirfa()
    service = HopService(adapter=adapter, store=app.session_store, engine=MENU, settings=app.settings)
    refusal = service.refusal(parsed)
    if refusal is not None:
        HOPS.labels(adapter.name, refusal.screen, "end").inc()
        return refusal

    started = time.perf_counter()
    seen: list[str] = []
    screen = "unknown"
    try:
        # What the hop's commits queue in Redis (SMS jobs) goes with its session write.
        with riding():
            answer = service.answer(
                parsed,
                context=lambda memo: menu_context(parsed, adapter, memo, language),
                commit=commit_if_used,
                journal=lambda progress: record_hop(
                    get_db(), aggregator=adapter.name, progress=progress, now=app.clock()
                ),
                seen=seen.append,
            )
        screen = answer.screen
        kind = "replay" if answer.replayed else "end" if answer.final else "con"
        HOPS.labels(adapter.name, screen, kind).inc()
    except Exception as error:
        correlation_id = uuid.uuid4().hex
        # Not log.exception: an exception's message may quote what was typed (int() of a
        # year, a SQL error's parameters). The types and frames locate the fault.
        log.error(
            "hop failed",
            extra={
                "correlation_id": correlation_id,
                "phone": mask_phone(parsed.phone),
                "session": parsed.session_id[-12:],
                "error": type(error).__qualname__,
                "trace": trace_without_messages(error),
            },
        )
        rollback()
        ERRORS.labels(adapter.name, screen, "exception").inc()
        answer = HopAnswer(service.unavailable(seen[-1] if seen else language), screen, True)
    HOP_SECONDS.labels(adapter.name, screen).observe(time.perf_counter() - started)
    return answer


@bp.post("/ussd/<aggregator>/events")
def session_event(aggregator: str) -> Response:
    # Hops are limited per phone (HopService); these reports per address.
    limit_per_ip("callbacks", hirfa().settings.callbacks_per_ip_per_minute)
    adapter = authorised_adapter(aggregator, "events", key=request.args.get("key", ""), remote_addr=request.remote_addr)
    try:
        event = adapter.parse_session_end(request.form)
    except InvalidRequest as error:
        REJECTED.labels("events", "invalid").inc()
        return _plain(str(error), 400)
    store = hirfa().session_store
    record = None
    try:
        loaded = store.load(adapter.name, event.session_id, event.phone, hop=False)
        record, resume = loaded.record, loaded.resume
        # Only the point this session left: a later dial may have replaced or used it.
        if event.status in CUT_OFF and resume is not None and resume.get("session") == event.session_id:
            store.keep_resume(adapter.name, event.phone)
    except Exception:  # the outcome is still worth keeping without our side of it
        log.warning("session store unavailable for an end-of-session event", exc_info=True)
    try:
        record_session_end(get_db(), aggregator=adapter.name, event=event, record=record, now=hirfa().clock())
    except Exception:
        # 503, not 500: nothing was stored, and an aggregator that retries may send it again.
        log.exception("session end not stored", extra={"correlation_id": uuid.uuid4().hex})
        rollback()
        return _plain("unavailable", 503)
    return _plain("OK")


def trace_without_messages(error: BaseException) -> str:
    """The traceback of `error` and of its causes and contexts: their types and frames
    (file, line, function, source line), never their messages nor any local value."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = "".join(traceback.format_tb(current.__traceback__))
        parts.append(f"{type(current).__module__}.{type(current).__qualname__}\n{frames}")
        current = current.__cause__ or current.__context__
    return "\nwhile handling:\n".join(reversed(parts))
