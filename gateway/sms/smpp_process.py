"""The SMPP process (`flask smpp run`): outbox rows out through one bound transceiver,
receipts and incoming SMS in. No Flask: the edge (gateway/smpp_app.py) gives it a session
factory, the clock and Redis.

How the outbox's guarantees survive the move from RQ jobs to one connection:
- After a commit the dispatcher pushes the new row ids to a Redis list (`ids_key`) instead
  of queueing RQ jobs (gateway/sms/dispatch.py); the sweep pushes the ids of due and dead
  rows there too. This process pops them in batches (up to SMPP_WINDOW x CLAIM_ROUNDS) and
  claims each batch in one transaction (`claim_outbox_rows`: pending -> `sending`,
  committed before any submit_sm; rows locked by another claim are skipped), so an id
  pushed twice is sent once. The results are recorded in batches too (`record_results`,
  one transaction for the results that came in meanwhile).
- Nothing is lost when a process dies: an id popped but not claimed leaves its row
  pending, and the sweep pushes it again after SMS_PENDING_TIMEOUT_SECONDS; a row left
  `sending` (claimed, maybe submitted) is put back flagged `possible_duplicate` after
  SMS_SENDING_TIMEOUT_SECONDS. A window slot is freed only once its row's result is
  committed, so at most SMPP_WINDOW messages are submitted and unrecorded at any time:
  those alone can go twice (a claimed row still waiting for a slot was never submitted;
  it is flagged all the same).
- Ids are claimed only while bound, so a dead SMSC costs no attempts: the ids wait in Redis.
- deliver_sm is dispatched by kind: a receipt updates the row with
  `record_delivery_report` (the rule Africa's Talking's reports use), an incoming SMS goes
  through `set_opt_out` (STOP / START), and a USSD indication (`ussd_service_op`) goes to
  the `ussd` handler (the USSD edge, gateway/smpp_app.py) in a worker thread: the reader
  answers the deliver_sm at once and must stay free to read our submit_sm's answer. The
  screen goes back as a submit_sm (ussd_service_op 2, or 17 for the last screen) within
  SMPP_USSD_ANSWER_SECONDS of the deliver_sm; later, nothing is sent and the handler
  treats the session as cut off.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import redis
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session

from gateway.config import Settings
from gateway.logs import mask_phone
from gateway.phones import InvalidPhone, caller_e164
from gateway.sms.africastalking import InboundSms
from gateway.sms.dispatch import smpp_ids_key
from gateway.sms.interfaces import SendResult, SendStatus
from gateway.sms.service import (
    ClaimedRow,
    RetryPolicy,
    claim_outbox_rows,
    record_delivery_report,
    record_results,
    send_claimed,
    set_opt_out,
)
from gateway.sms.smpp import (
    USSD_PSSR_RESPONSE,
    USSD_USSR_REQUEST,
    SmppConnection,
    SmppSmsSender,
    decode,
    encode_screen,
    parse_receipt,
)

log = logging.getLogger(__name__)

POP_TIMEOUT_SECONDS = 1
# Outbox ids claimed per round trip: SMPP_WINDOW x this (the next batch is claimed while
# the window sends the last one).
CLAIM_ROUNDS = 2
RECORD_BATCH = 500
RECORD_TRIES = 3
RECORD_RETRY_SECONDS = 0.5
# Under the Redis client's socket timeout (0.5 s): a longer wait would read as Redis down.
BLPOP_SECONDS = 0.3
ESME_ROK = 0
USSD_WORKERS = 4


@dataclass(frozen=True)
class UssdIndication:
    """A deliver_sm carrying ussd_service_op, as read off the wire."""

    source: str  # the caller's MSISDN, as the SMSC wrote it
    destination: str  # what the caller dialed to (the service's short code)
    op: int
    session_info: int | None  # its_session_info: session number << 8 | dialogue sequence << 1 | end
    text: str
    sequence: int  # the PDU's sequence number
    received: float  # time.monotonic() when read


@dataclass(frozen=True)
class UssdReply:
    text: str
    final: bool


class UssdHandler(Protocol):
    def answer(self, indication: UssdIndication) -> UssdReply | None:
        """The screen for `indication` (None: nothing to send)."""

    def cut_off(self, indication: UssdIndication) -> None:
        """The answer came too late to be sent: the operator has ended the session."""


class SmppProcess:
    def __init__(
        self,
        *,
        settings: Settings,
        redis_client: redis.Redis,
        open_session: Callable[[], AbstractContextManager[Session]],
        clock: Callable[[], dt.datetime],
        connection: SmppConnection | None = None,
        ussd: UssdHandler | None = None,
    ) -> None:
        self.ussd = ussd
        self.settings = settings
        self.redis = redis_client
        self.open_session = open_session
        self.clock = clock
        self.connection = connection or SmppConnection(
            host=settings.smpp_host,
            port=settings.smpp_port,
            system_id=settings.smpp_system_id,
            password=settings.smpp_password,
            system_type=settings.smpp_system_type,
            window=settings.smpp_window,
            max_per_second=settings.smpp_max_per_second,
            on_deliver=self.on_deliver,
        )
        self.sender = SmppSmsSender(self.connection, source_addr=settings.smpp_source_addr)
        self.stopping = self.connection.stopping
        self._room = threading.BoundedSemaphore(settings.smpp_window)
        self._results: queue.Queue[tuple[int, SendResult]] = queue.Queue()
        self._sent_all = threading.Event()
        self._policy = RetryPolicy.from_settings(settings)
        self._ussd_pool = ThreadPoolExecutor(USSD_WORKERS, thread_name_prefix="smpp-ussd")

    def run(self) -> None:
        """Until `stop()`: keep the link bound and send what the outbox pushes."""
        link = threading.Thread(target=self.connection.run, name="smpp-link", daemon=True)
        link.start()
        recorder = threading.Thread(target=self._record_loop, name="smpp-record", daemon=True)
        recorder.start()
        with ThreadPoolExecutor(self.settings.smpp_window, thread_name_prefix="smpp-send") as pool:
            while not self.stopping.is_set():
                if not self.connection.wait_bound(POP_TIMEOUT_SECONDS):
                    continue
                ids = self._pop(self.settings.smpp_window * CLAIM_ROUNDS)
                if not ids:
                    continue
                try:
                    with self.open_session() as db:
                        claim = claim_outbox_rows(
                            db_session=db, settings=self.settings, now=self.clock(), outbox_ids=ids, skip_locked=True
                        )
                except Exception:
                    log.exception("smpp claim failed; the sweep will push them again", extra={"count": len(ids)})
                    self.stopping.wait(POP_TIMEOUT_SECONDS)
                    continue
                for row in claim.claimed:
                    while not self._room.acquire(timeout=POP_TIMEOUT_SECONDS):
                        pass  # the room comes back as results are recorded, stopping or not
                    pool.submit(self._submit, row)
        self._sent_all.set()
        recorder.join()
        link.join(timeout=5)

    def stop(self) -> None:
        self.connection.stop()
        self._ussd_pool.shutdown(wait=False, cancel_futures=True)

    def _pop(self, limit: int) -> list[int]:
        """Up to `limit` outbox ids: waits briefly for the first, takes what else is there."""
        key = smpp_ids_key(self.settings.redis_prefix)
        try:
            first = self.redis.blpop([key], timeout=BLPOP_SECONDS)
            if first is None:
                return []
            more = self.redis.lpop(key, limit - 1) if limit > 1 else None
        except redis.RedisError:
            log.warning("smpp: redis unavailable", exc_info=True)
            self.stopping.wait(POP_TIMEOUT_SECONDS)
            return []
        return [int(first[1]), *(int(found) for found in more or ())]

    def _submit(self, row: ClaimedRow) -> None:
        if self.stopping.is_set():
            result = SendResult(SendStatus.RETRY, reason="smpp: stopping")  # never sent: back to pending
        else:
            result = send_claimed(self.sender, row)
        self._results.put((row.id, result))

    def _record_loop(self) -> None:
        """Record the results in batches (one transaction for what came meanwhile); a row's
        window slot is free once its result is committed, so at most SMPP_WINDOW rows are
        ever between their submit_sm and their committed result (those a crash may send twice)."""
        while True:
            try:
                batch = [self._results.get(timeout=BLPOP_SECONDS)]
            except queue.Empty:
                if self._sent_all.is_set():
                    return
                continue
            while len(batch) < RECORD_BATCH:
                try:
                    batch.append(self._results.get_nowait())
                except queue.Empty:
                    break
            try:
                self._record(batch)
            finally:
                for _ in batch:
                    self._room.release()

    def _record(self, batch: list[tuple[int, SendResult]]) -> None:
        """Tried RECORD_TRIES times (the window waits meanwhile): rows whose results are
        not recorded stay `sending`, and the sweep sends them again, flagged."""
        for attempt in range(1, RECORD_TRIES + 1):
            try:
                with self.open_session() as db:
                    record_results(db_session=db, policy=self._policy, clock=self.clock, results=batch)
                return
            except Exception:
                if attempt == RECORD_TRIES:
                    log.exception("smpp results not recorded; the sweep puts them back", extra={"count": len(batch)})
                    return
                log.warning("smpp results not recorded; trying again", exc_info=True)
                time.sleep(RECORD_RETRY_SECONDS)

    # deliver_sm --------------------------------------------------------------------------

    def on_deliver(self, pdu: Any) -> int:
        """A receipt, an incoming SMS or a USSD indication; the status the deliver_sm_resp carries."""
        text = decode(bytes(pdu.short_message or b""), int(pdu.data_coding or 0))
        if getattr(pdu, "ussd_service_op", None) is not None:
            return self._ussd_indication(pdu, text)
        if int(pdu.esm_class or 0) & 0x3C == 0x04:
            return self._receipt(text)
        return self._incoming(pdu, text)

    def _ussd_indication(self, pdu: Any, text: str) -> int:
        if self.ussd is None:
            log.warning("smpp ussd indication without a USSD handler")
            return ESME_ROK
        info = getattr(pdu, "its_session_info", None)
        indication = UssdIndication(
            source=_text(pdu.source_addr),
            destination=_text(pdu.destination_addr),
            op=int(pdu.ussd_service_op),
            session_info=None if info is None else int(info),
            text=text,
            sequence=int(pdu.sequence),
            received=time.monotonic(),
        )
        self._ussd_pool.submit(self._ussd_hop, indication)
        return ESME_ROK

    def _ussd_hop(self, indication: UssdIndication) -> None:
        assert self.ussd is not None
        try:
            reply = self.ussd.answer(indication)
            if reply is None:
                return
            left = indication.received + self.settings.smpp_ussd_answer_seconds - time.monotonic()
            if left <= 0:
                log.warning("smpp ussd answer too late: not sent", extra={"phone": mask_phone(indication.source)})
                self.ussd.cut_off(indication)
                return
            message, data_coding = encode_screen(reply.text)
            fields: dict[str, Any] = {}
            if indication.session_info is not None:
                fields["its_session_info"] = indication.session_info
            status, _ = self.connection.submit(
                timeout=left,
                source_addr_ton=0,
                source_addr_npi=0,
                # The service number when set; else the short code the caller reached.
                source_addr=self.settings.smpp_service_number or indication.destination,
                dest_addr_ton=1,
                dest_addr_npi=1,
                destination_addr=indication.source.lstrip("+"),
                short_message=message,
                data_coding=data_coding,
                ussd_service_op=USSD_PSSR_RESPONSE if reply.final else USSD_USSR_REQUEST,
                **fields,
            )
            if status != ESME_ROK:
                log.warning("smpp ussd answer refused", extra={"status": status})
        except Exception:
            log.exception("smpp ussd hop failed")

    def _receipt(self, text: str) -> int:
        receipt = parse_receipt(text)
        if receipt is None:
            log.warning("smpp receipt unreadable", extra={"receipt": text[:120]})
            return ESME_ROK  # redelivering it would not make it readable
        with self.open_session() as db:
            outcome = record_delivery_report(
                db_session=db,
                provider_message_id=receipt.message_id,
                status=receipt.stat,
                failure_reason=f"err:{receipt.error}" if receipt.error else None,
                now=self.clock(),
            )
            db.commit()
        log.info("smpp receipt", extra={"message_id": receipt.message_id, "outcome": outcome.value})
        return ESME_ROK

    def _incoming(self, pdu: Any, text: str) -> int:
        source = _text(pdu.source_addr)
        try:
            sender = caller_e164(source if source.startswith("+") else f"+{source}")
        except InvalidPhone:
            log.warning("smpp incoming sms from an unreadable number")
            return ESME_ROK
        message = InboundSms(message_id=inbound_key(pdu), sender=sender, text=text)
        keyword = message.keyword
        if keyword is None:
            log.info("smpp incoming sms without a keyword", extra={"phone": mask_phone(sender)})
            return ESME_ROK
        now = self.clock()
        with self.open_session() as db:
            set_opt_out(
                db_session=db,
                settings=self.settings,
                phone=sender,
                opt_out=keyword == "stop",
                inbound_id=message.message_id,
                seen_after=now - INBOUND_REDELIVERY_WINDOW,
            )
            db.commit()
        return ESME_ROK


# The fields of a deliver_sm that a redelivery repeats (its sequence number changes).
INBOUND_KEY_FIELDS = ("source_addr", "destination_addr", "data_coding", "esm_class", "short_message")
INBOUND_KEY_OPTIONS = ("sar_msg_ref_num", "sar_total_segments", "sar_segment_seqnum", "receipted_message_id")
# How long an SMSC may keep redelivering a deliver_sm we did not acknowledge.
INBOUND_REDELIVERY_WINDOW = dt.timedelta(hours=24)


def inbound_key(pdu: Any) -> str:
    """A stable id for an incoming SMS: SMPP gives it none, and an SMSC redelivers a
    deliver_sm (answered with an error, or not at all) under a new sequence number, often
    on a new bind. So: a hash of what the redelivery repeats (addresses, coding, the raw
    short_message with its UDH, the sar_* / receipted_message_id options when present)."""
    digest = hashlib.sha256()
    for name in (*INBOUND_KEY_FIELDS, *INBOUND_KEY_OPTIONS):
        value = getattr(pdu, name, None)
        digest.update(name.encode() + b"=" + (value if isinstance(value, bytes) else str(value).encode()) + b"\x00")
    return f"smpp-{digest.hexdigest()[:32]}"


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("ascii", errors="replace").rstrip("\x00")
    return str(value or "")


class LivenessCollector(Collector):
    """`/metrics` of the SMPP process: bound or not, window in use, last error."""

    def __init__(self, connection: SmppConnection) -> None:
        self.connection = connection

    def collect(self) -> Iterable[Metric]:
        live = self.connection.liveness
        yield GaugeMetricFamily("hirfa_smpp_bound", "1 while the transceiver is bound", value=int(live.bound))
        yield GaugeMetricFamily("hirfa_smpp_window_in_use", "submit_sm awaiting their answer", value=live.window_in_use)
        yield GaugeMetricFamily("hirfa_smpp_window", "SMPP_WINDOW", value=self.connection.window)
        yield InfoMetricFamily(
            "hirfa_smpp_last_error", "The last link error (empty once bound)", value={"error": live.last_error}
        )


def serve_metrics(connection: SmppConnection, port: int) -> LivenessCollector | None:
    """Start `/metrics` on 127.0.0.1:`port` (0: off), in a thread of prometheus_client's;
    returns its collector (a later process's connection can be given to it)."""
    if not port:
        return None
    collector = LivenessCollector(connection)
    registry = CollectorRegistry()
    registry.register(collector)
    start_http_server(port, addr="127.0.0.1", registry=registry)
    return collector
