"""The Flask edge of the SMPP process: `flask smpp run` builds an SmppProcess
(gateway/sms/smpp_process.py) on the app's settings, sessions, clock and Redis, and
answers its USSD indications with the web's hop path (gateway/web/ussd.py `run_hop`)."""

from __future__ import annotations

import json
import logging
import time

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from gateway.leader import run_alone
from gateway.logs import mask_phone
from gateway.metrics import REJECTED
from gateway.phones import caller_e164
from gateway.sms.smpp import USSD_PSSR_INDICATION
from gateway.sms.smpp_process import LivenessCollector, SmppProcess, UssdIndication, UssdReply, serve_metrics
from gateway.sms_app import app_session
from gateway.ussd.adapters.smpp import adapter as smpp_adapter
from gateway.ussd.adapters.smpp import is_dial
from gateway.ussd.interfaces import InvalidRequest, bilingual
from gateway.ussd.service import INVALID_REQUEST
from gateway.web.ussd import run_hop
from gateway.wiring import EXTENSION as HIRFA
from gateway.wiring import Hirfa

log = logging.getLogger(__name__)

smpp_cli = AppGroup("smpp", help="The SMPP connection process (SMS over SMPP).")


def app_smpp_process(app: Flask) -> SmppProcess:
    parts: Hirfa = app.extensions[HIRFA]
    return SmppProcess(
        settings=parts.settings,
        redis_client=parts.redis,
        open_session=lambda: app_session(app),
        clock=parts.clock,
        ussd=AppUssd(app),
    )


class AppUssd:
    """USSD over SMPP: an indication -> a hop of the `smpp` adapter -> its screen.

    SMPP has no session id of its own: the caller's number and its_session_info's session
    number (one octet, reused) name a dialogue, and a dial (ussd_service_op 1 carrying a
    dial string) always opens a new session, remembered in Redis for the answers
    (ussd_service_op 18, or 1 again) of that dialogue."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def _key(self, indication: UssdIndication) -> str:
        number = "" if indication.session_info is None else str(indication.session_info >> 8)
        prefix = self.app.extensions[HIRFA].settings.redis_prefix
        return f"{prefix}ussd-smpp-dialogue:{indication.source.lstrip('+')}:{number}"

    def _form(self, indication: UssdIndication) -> dict[str, str]:
        parts: Hirfa = self.app.extensions[HIRFA]
        key = self._key(indication)
        turn = (indication.session_info & 0xFF) >> 1 if indication.session_info is not None else indication.sequence
        form = {"source": indication.source, "turn": str(turn), "answer": indication.text}
        dial = indication.op == USSD_PSSR_INDICATION and is_dial(indication.text)
        known = parts.redis.get(key)
        dialogue = json.loads(known) if known else None
        # The same dial PDU again (a retransmission) keeps its session: its hop is replayed.
        if dial and not (dialogue and dialogue.get("dial") == [indication.text, turn]):
            dialogue = {"session": f"{key.rsplit(':', 2)[-2]}.{time.time_ns()}", "dial": [indication.text, turn]}
            dialogue["service_code"] = indication.text
            parts.redis.set(key, json.dumps(dialogue), ex=parts.settings.session_ttl_seconds)
        if dialogue is None:
            raise InvalidRequest("an answer outside any dialogue")
        form["session"] = dialogue["session"]
        if dial:
            form["code"] = indication.text
        else:
            form["service_code"] = smpp_adapter.parse_hop({**form, "code": dialogue["service_code"]}).service_code
        return form

    def answer(self, indication: UssdIndication) -> UssdReply | None:
        with self.app.app_context():
            try:
                hop = smpp_adapter.parse_hop(self._form(indication))
            except InvalidRequest as error:
                REJECTED.labels("hop", "invalid").inc()
                log.warning("smpp ussd refused", extra={"reason": str(error)})
                return UssdReply(bilingual(INVALID_REQUEST), True)
            answer = run_hop(smpp_adapter, hop)
            return UssdReply(answer.body, answer.final)

    def cut_off(self, indication: UssdIndication) -> None:
        """Like Africa's Talking's `Incomplete`: the caller may take the session up again."""
        try:
            phone = caller_e164("+" + indication.source.lstrip("+"))
            self.app.extensions[HIRFA].session_store.keep_resume(smpp_adapter.name, phone)
        except Exception:  # the session is lost either way; only its resume point is at stake
            log.warning("smpp ussd cut off: resume point not kept", extra={"phone": mask_phone(indication.source)})


@smpp_cli.command("run")
def run() -> None:
    """Hold one bound transceiver to SMPP_HOST and send the outbox through it (Procfile `smpp:`)."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    settings = app.extensions[HIRFA].settings
    missing = settings.smpp_missing()
    if missing:
        raise click.ClickException(f"set {', '.join(missing)}: the SMPP process needs them")
    if settings.is_production and settings.sms_backend != "smpp":
        raise click.ClickException("SMS_BACKEND=smpp is required: otherwise nothing reaches this process")
    collector: LivenessCollector | None = None

    def make_process() -> SmppProcess:
        nonlocal collector
        process = app_smpp_process(app)
        if collector is None:
            collector = serve_metrics(process.connection, settings.smpp_metrics_port)
        else:
            collector.connection = process.connection
        click.echo(f"smpp: binding to {settings.smpp_host}:{settings.smpp_port} as {settings.smpp_system_id}")
        return process

    # One bind at a time: a second copy waits for the lease (gateway/leader.py).
    run_alone("smpp", settings, app.extensions[HIRFA].redis, make_process)
