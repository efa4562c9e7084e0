"""Africa's Talking SMS callbacks: delivery reports and incoming SMS (STOP / START).

Authenticated like the USSD callbacks (secret key in the URL, optional IP list). They
answer fast, in plain text: 200 once handled (an unknown message id too: the aggregator
must not retry it forever), 400 when malformed, 403 without the key, 503 when the
database is unavailable (nothing stored: a retry is welcome). Never a 500."""

from __future__ import annotations

import logging
import uuid

from flask import Blueprint, Response, abort, request
from werkzeug.exceptions import HTTPException

from gateway.db import get_db, rollback
from gateway.logs import mask_phone
from gateway.metrics import REJECTED
from gateway.sms.africastalking import InvalidCallback, parse_delivery_report, parse_inbound
from gateway.sms.service import OptOutChange, ReportOutcome, record_delivery_report, set_opt_out
from gateway.web.auth import callback_refusal, limit_per_ip, retry_after_header
from gateway.wiring import hirfa

log = logging.getLogger(__name__)
bp = Blueprint("sms", __name__)


@bp.errorhandler(HTTPException)
def refused(error: HTTPException) -> Response:
    response = _plain((error.name or "refused").lower(), error.code or 400)
    response.headers.update(retry_after_header(error))
    return response


def _plain(body: str, status: int = 200) -> Response:
    return Response(body, status=status, content_type="text/plain; charset=utf-8")


def _authorise(endpoint: str) -> None:
    limit_per_ip("callbacks", hirfa().settings.callbacks_per_ip_per_minute)
    reason = callback_refusal(hirfa().settings, key=request.args.get("key", ""), remote_addr=request.remote_addr)
    if reason is not None:
        REJECTED.labels(endpoint, reason).inc()
        log.warning("callback refused", extra={"endpoint": endpoint, "reason": reason})
        abort(403)


def _unavailable(what: str) -> Response:
    log.exception(what, extra={"correlation_id": uuid.uuid4().hex})
    rollback()
    return _plain("unavailable", 503)


@bp.post("/sms/africastalking/delivery-reports")
def delivery_report() -> Response:
    _authorise("sms_delivery_report")
    try:
        report = parse_delivery_report(request.form)
    except InvalidCallback as error:
        REJECTED.labels("sms_delivery_report", "invalid").inc()
        return _plain(str(error), 400)
    try:
        db = get_db()
        outcome = record_delivery_report(
            db_session=db,
            provider_message_id=report.message_id,
            status=report.status,
            failure_reason=report.failure_reason,
            now=hirfa().clock(),
        )
        db.commit()
    except Exception:
        return _unavailable("delivery report not stored")
    if outcome in (ReportOutcome.UNKNOWN_MESSAGE, ReportOutcome.UNKNOWN_STATUS, ReportOutcome.STALE):
        log.warning(
            "delivery report kept aside",
            extra={"outcome": outcome.value, "status": report.status, "message_id": report.message_id},
        )
    return _plain("OK")


@bp.post("/sms/africastalking/inbound")
def inbound() -> Response:
    _authorise("sms_inbound")
    try:
        message = parse_inbound(request.form)
    except InvalidCallback as error:
        REJECTED.labels("sms_inbound", "invalid").inc()
        return _plain(str(error), 400)
    keyword = message.keyword
    if keyword is None:
        log.info("incoming sms without a keyword", extra={"phone": mask_phone(message.sender)})
        return _plain("OK")
    try:
        db = get_db()
        change = set_opt_out(
            db_session=db,
            settings=hirfa().settings,
            phone=message.sender,
            opt_out=keyword == "stop",
            inbound_id=message.message_id,
        )
        db.commit()
    except Exception:
        return _unavailable("incoming sms not handled")
    if change is OptOutChange.UNKNOWN_PHONE:
        log.info("incoming sms keyword from an unknown phone", extra={"phone": mask_phone(message.sender)})
    return _plain("OK")
