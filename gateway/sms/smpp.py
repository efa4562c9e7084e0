"""SMPP 3.4 over the PyPI `smpplib` client: one bound transceiver, the SMS sender on it,
and SMPP's status vocabulary. No Flask, no database: gateway/sms/smpp_process.py runs it.

One connection, several threads:
- the reader thread owns every read of the socket: submit_sm_resp wakes the submit that
  waits for its sequence number; deliver_sm goes to `on_deliver` (receipts, incoming SMS,
  and later USSD indications: it is dispatched by kind there) and is answered with the
  status it returns; enquire_link is answered; after ENQUIRE_LINK_SECONDS without a PDU
  the reader sends an enquire_link itself (smpplib's socket timeout is that interval);
- any thread may submit: writes go under one lock (smpplib's sequence counter is not
  thread safe either), at most `window` submits wait for their answer at once, and at
  most `max_per_second` leave per second.
- `run()` (the supervisor) connects, binds, waits for the reader to die, reconnects with a
  capped backoff. A refused bind is logged once per status and retried every
  `bind_retry_seconds`.

What we measured of smpplib 2.2.4 (tests/unit/test_smpp_encoding.py):
`smpplib.gsm.make_parts` gives GSM-7 (data_coding 0) for what the GSM alphabet holds and
UCS-2 (data_coding 8) otherwise; past 160 / 70 characters it splits into 153 / 67 character
parts, each behind a 6-byte UDH (05 00 03, one random 8-bit reference, total, index) and
esm_class 0x40. Its GSM-7 split may cut an escape pair (`€`, `[`) in two: our texts are
Arabic (UCS-2) or plain French, and we accept that for now.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

import smpplib.client
import smpplib.command
import smpplib.consts as c
import smpplib.exceptions
import smpplib.gsm
import smpplib.smpp

from gateway.logs import mask_phone
from gateway.sms.interfaces import SendResult, SendStatus

log = logging.getLogger(__name__)

# smpplib 2.2.4's deliver_sm lacks the USSD optional parameter (its submit_sm has it, and
# both have its_session_info): a deliver_sm carrying it raised KeyError. Added here, once.
if "ussd_service_op" not in smpplib.command.DeliverSM.params:
    smpplib.command.DeliverSM.params["ussd_service_op"] = smpplib.command.Param(type=int, size=1)
    smpplib.command.DeliverSM.params_order = (*smpplib.command.DeliverSM.params_order, "ussd_service_op")

# ussd_service_op values (SMPP 3.4 5.3.2.44).
USSD_PSSR_INDICATION = 1  # the caller dialed (`*4242#`)
USSD_USSR_REQUEST = 2  # our screen, awaiting an answer
USSD_PSSR_RESPONSE = 17  # our last screen
USSD_USSR_CONFIRM = 18  # the caller's answer

ENQUIRE_LINK_SECONDS = 30
SUBMIT_TIMEOUT_SECONDS = 10.0

# submit_sm_resp statuses retried with the outbox's backoff: the SMSC is busy or broken.
RETRY_STATUSES = frozenset({c.SMPP_ESME_RTHROTTLED, c.SMPP_ESME_RMSGQFUL, c.SMPP_ESME_RSYSERR})
# The message itself is wrong for this SMSC (destination, length, content): sending it
# again changes nothing. Every other status is retried (ours to fix, like a bad sender id).
PERMANENT_STATUSES = frozenset(
    {
        c.SMPP_ESME_RINVDSTADR,
        c.SMPP_ESME_RINVDSTTON,
        c.SMPP_ESME_RINVDSTNPI,
        c.SMPP_ESME_RINVMSGLEN,
        c.SMPP_ESME_RINVESMCLASS,
        c.SMPP_ESME_RX_P_APPN,
        c.SMPP_ESME_RX_R_APPN,
    }
)

# Delivery receipt `stat:` words (SMPP 3.4 appendix B); service.record_delivery_report reads them.
DELIVERED_STATS = frozenset({"DELIVRD"})
FAILED_STATS = frozenset({"UNDELIV", "EXPIRED", "REJECTD", "DELETED", "UNKNOWN"})
INTERIM_STATS = frozenset({"ENROUTE", "ACCEPTD"})

RECEIPT_MASK = 0x3C  # esm_class bits 2-5: message type
RECEIPT_TYPE = 0x04  # SMSC delivery receipt


def status_name(status: int) -> str:
    """0x58 -> ESME_RTHROTTLED (the name operators and logs use)."""
    for name, value in vars(c).items():
        if name.startswith("SMPP_ESME_") and value == status:
            return str(name.removeprefix("SMPP_"))
    return f"0x{status:08X}"


def classify(status: int) -> SendStatus:
    if status == 0:  # ESME_ROK
        return SendStatus.SENT
    if status in PERMANENT_STATUSES:
        return SendStatus.FAILED
    return SendStatus.RETRY


@dataclass(frozen=True)
class Encoded:
    parts: list[bytes]
    data_coding: int  # 0 GSM-7, 8 UCS-2
    esm_class: int  # 0x40 (UDHI) when the parts carry a concatenation header


def encode(body: str) -> Encoded:
    parts, data_coding, esm_class = smpplib.gsm.make_parts(body)
    return Encoded(list(parts), int(data_coding), int(esm_class))


def encode_screen(text: str) -> tuple[bytes, int]:
    """A USSD screen in one PDU (never split: USSD has no concatenation): GSM-7 when the
    GSM alphabet holds it, else UCS-2, as `encode` chooses for SMS."""
    try:
        return smpplib.gsm.gsm_encode(text), c.SMPP_ENCODING_DEFAULT
    except UnicodeError:
        return text.encode("utf-16-be"), c.SMPP_ENCODING_ISO10646


def decode(short_message: bytes, data_coding: int) -> str:
    if data_coding == c.SMPP_ENCODING_ISO10646:
        return short_message.decode("utf-16-be", errors="replace")
    # GSM-7 unpacked: the keywords we read (STOP, START) are the same bytes as ASCII.
    return short_message.decode("latin-1")


@dataclass(frozen=True)
class Receipt:
    message_id: str
    stat: str
    error: str | None


def parse_receipt(text: str) -> Receipt | None:
    """`id:abc sub:001 dlvrd:001 submit date:… done date:… stat:DELIVRD err:000 text:…`."""
    fields: dict[str, str] = {}
    for token in text.replace("submit date", "submit_date").replace("done date", "done_date").split():
        key, sep, value = token.partition(":")
        if sep and key.lower() not in fields:
            fields[key.lower()] = value
    message_id, stat = fields.get("id", ""), fields.get("stat", "").upper()
    if not message_id or not stat or len(message_id) > 128:
        return None
    return Receipt(message_id, stat[:40], fields.get("err") or None)


class BindRefused(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status_name(status))
        self.status = status


@dataclass
class Liveness:
    bound: bool = False
    window_in_use: int = 0
    last_error: str = ""


# deliver_sm -> the command_status to answer it with (ESME_ROK once handled).
DeliverHandler = Callable[[Any], int]


class SmppConnection:
    """One bound transceiver, kept bound; thread safe for `submit`."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        system_id: str,
        password: str,
        system_type: str = "",
        window: int = 10,
        max_per_second: float = 100.0,
        on_deliver: DeliverHandler,
        enquire_link_seconds: float = ENQUIRE_LINK_SECONDS,
        backoff_seconds: tuple[float, float] = (1.0, 30.0),
        bind_retry_seconds: float = 60.0,
    ) -> None:
        self.host, self.port = host, port
        self._credentials = {"system_id": system_id, "password": password, "system_type": system_type}
        self.window = window
        self._interval = 1.0 / max_per_second if max_per_second > 0 else 0.0
        self._on_deliver = on_deliver
        self._enquire_link_seconds = enquire_link_seconds
        self._backoff = backoff_seconds
        self._bind_retry_seconds = bind_retry_seconds
        self.stopping = threading.Event()
        self.liveness = Liveness()
        self._bound = threading.Event()
        self._slots = threading.BoundedSemaphore(window)
        self._write = threading.Lock()
        self._pending: dict[int, Future[tuple[int, str]]] = {}
        self._pending_lock = threading.Lock()
        self._next_slot = 0.0
        self._pace = threading.Lock()
        self._client: smpplib.client.Client | None = None
        self._refused_status: int | None = None  # the last refusal logged (logged once)

    # The supervisor ----------------------------------------------------------------------

    def run(self) -> None:
        """Connect, bind, read until the link drops, again, until `stopping` is set."""
        failures = 0
        while not self.stopping.is_set():
            try:
                self._connect_and_bind()
            except BindRefused as refused:
                self._note_error(f"bind refused: {refused}")
                if self._refused_status != refused.status:
                    log.error(
                        "smpp bind refused",
                        extra={"status": str(refused), "host": self.host, "system_id": self._credentials["system_id"]},
                    )
                    self._refused_status = refused.status
                self.stopping.wait(self._bind_retry_seconds)
                continue
            except (OSError, smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError) as error:
                failures += 1
                delay = min(self._backoff[0] * 2 ** min(failures - 1, 10), self._backoff[1])
                self._note_error(f"connect failed: {error or type(error).__name__}")
                log.warning("smpp connect failed", extra={"host": self.host, "retry_in": delay})
                self.stopping.wait(delay)
                continue
            failures = 0
            self._refused_status = None
            log.info("smpp bound", extra={"host": self.host, "port": self.port})
            self._read_until_closed()
            self._drop("connection lost")

    def stop(self) -> None:
        self.stopping.set()
        client = self._client
        if client is not None and self._bound.is_set():
            try:
                with self._write:
                    client.send_pdu(smpplib.smpp.make_pdu("unbind", client=client))
            except Exception:
                log.debug("unbind failed", exc_info=True)
        self._drop("stopped")

    def wait_bound(self, timeout: float) -> bool:
        return self._bound.wait(timeout)

    def _connect_and_bind(self) -> None:
        client = smpplib.client.Client(
            self.host, self.port, timeout=self._enquire_link_seconds, allow_unknown_opt_params=True
        )
        client.connect()
        # Each PDU is small and answered at once: without TCP_NODELAY, Nagle's algorithm
        # holds a PDU until the previous one is acknowledged, and delayed ACKs add ~40 ms
        # per exchange (a USSD hop measured 84 ms at p50 without it).
        client._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            client.bind_transceiver(**self._credentials)
        except smpplib.exceptions.PDUError as error:
            client.disconnect()
            if len(error.args) > 1 and isinstance(error.args[1], int):
                raise BindRefused(error.args[1]) from None
            raise
        except BaseException:
            client.disconnect()
            raise
        self._client = client
        self.liveness.bound = True
        self.liveness.last_error = ""
        self._bound.set()

    def _drop(self, reason: str) -> None:
        self._bound.clear()
        self.liveness.bound = False
        client, self._client = self._client, None
        if client is not None:
            try:
                client.disconnect()
            except Exception:
                log.debug("disconnect failed", exc_info=True)
        with self._pending_lock:
            waiting, self._pending = self._pending, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(ConnectionError(reason))

    def _note_error(self, text: str) -> None:
        self.liveness.last_error = text[:200]

    # The reader --------------------------------------------------------------------------

    def _read_until_closed(self) -> None:
        client = self._client
        assert client is not None  # bound just now
        while not self.stopping.is_set():
            try:
                pdu = client.read_pdu()
            except TimeoutError:
                self._send(smpplib.smpp.make_pdu, "enquire_link")
                continue
            except (OSError, smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError) as error:
                if not self.stopping.is_set():
                    self._note_error(f"read failed: {error or type(error).__name__}")
                    log.warning("smpp connection lost", extra={"host": self.host})
                return
            try:
                self._dispatch(pdu)
            except (OSError, smpplib.exceptions.ConnectionError) as error:
                self._note_error(f"write failed: {error or type(error).__name__}")
                return

    def _dispatch(self, pdu: Any) -> None:
        command = pdu.command
        if command in ("submit_sm_resp", "generic_nack"):
            with self._pending_lock:
                future = self._pending.pop(pdu.sequence, None)
            if future is not None and not future.done():
                future.set_result((int(pdu.status), _text(getattr(pdu, "message_id", b""))))
        elif command == "deliver_sm":
            try:
                status = self._on_deliver(pdu)
            except Exception:
                log.exception("deliver_sm handler failed: the SMSC will deliver it again")
                status = c.SMPP_ESME_RX_T_APPN
            self._send(smpplib.smpp.make_pdu, "deliver_sm_resp", sequence=pdu.sequence, status=status)
        elif command == "enquire_link":
            self._send(smpplib.smpp.make_pdu, "enquire_link_resp", sequence=pdu.sequence)
        elif command == "unbind":
            self._send(smpplib.smpp.make_pdu, "unbind_resp", sequence=pdu.sequence)
            raise smpplib.exceptions.ConnectionError("unbound by the SMSC")
        elif command != "enquire_link_resp":
            log.warning("smpp pdu not handled", extra={"command": command})

    def _send(self, make: Callable[..., Any], command: str, **fields: Any) -> Any:
        client = self._client
        if client is None:
            raise smpplib.exceptions.ConnectionError("not bound")
        with self._write:
            pdu = make(command, client=client, **fields)
            client.send_pdu(pdu)
        return pdu

    # Submitting --------------------------------------------------------------------------

    def submit(self, timeout: float = SUBMIT_TIMEOUT_SECONDS, **fields: Any) -> tuple[int, str]:
        """One submit_sm; waits for its answer. Returns (command_status, message_id).
        Raises ConnectionError (never sent) or TimeoutError (sent, no answer)."""
        if not self._bound.wait(timeout):
            raise ConnectionError("not bound")
        if not self._slots.acquire(timeout=timeout):
            raise ConnectionError("window full")
        try:
            self.liveness.window_in_use += 1
            self._pace_submit()
            future: Future[tuple[int, str]] = Future()
            client = self._client
            if client is None:
                raise ConnectionError("not bound")
            with self._write:
                pdu = smpplib.smpp.make_pdu("submit_sm", client=client, **fields)
                with self._pending_lock:
                    self._pending[pdu.sequence] = future
                try:
                    client.send_pdu(pdu)
                except (OSError, smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError) as error:
                    with self._pending_lock:
                        self._pending.pop(pdu.sequence, None)
                    raise ConnectionError(str(error) or "send failed") from None
            try:
                return future.result(timeout)
            except FutureTimeout:
                with self._pending_lock:
                    self._pending.pop(pdu.sequence, None)
                raise TimeoutError("no submit_sm_resp") from None
            except ConnectionError:
                raise TimeoutError("connection lost before submit_sm_resp") from None
        finally:
            self.liveness.window_in_use -= 1
            self._slots.release()

    def _pace_submit(self) -> None:
        """At most `max_per_second` submits leave per second (a slot each, in order)."""
        if not self._interval:
            return
        with self._pace:
            now = time.monotonic()
            slot = max(self._next_slot, now)
            self._next_slot = slot + self._interval
        if slot > now:
            time.sleep(slot - now)


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("ascii", errors="replace").rstrip("\x00")
    return str(value or "")


class SmppSmsSender:
    """The outbox's SmsSender over a bound SmppConnection (the `smpp` process only)."""

    name = "smpp"

    def __init__(self, connection: SmppConnection, *, source_addr: str) -> None:
        self.connection = connection
        self.source_addr = source_addr
        # An alphanumeric sender id is TON 5; a short or long number is TON 0 / 1.
        self.source_ton = c.SMPP_TON_INTL if source_addr.lstrip("+").isdigit() else c.SMPP_TON_ALNUM

    def send(self, *, recipient: str, body: str) -> SendResult:
        encoded = encode(body)
        part_ids: list[str] = []
        for index, part in enumerate(encoded.parts):
            try:
                status, part_id = self.connection.submit(
                    source_addr_ton=self.source_ton,
                    source_addr_npi=c.SMPP_NPI_UNK if self.source_ton == c.SMPP_TON_ALNUM else c.SMPP_NPI_ISDN,
                    source_addr=self.source_addr,
                    dest_addr_ton=c.SMPP_TON_INTL,
                    dest_addr_npi=c.SMPP_NPI_ISDN,
                    destination_addr=recipient.lstrip("+"),
                    short_message=part,
                    data_coding=encoded.data_coding,
                    esm_class=encoded.esm_class,
                    registered_delivery=1,  # a receipt for each part
                )
            except ConnectionError as error:
                # Earlier parts may have gone: the retry may repeat them.
                return SendResult(SendStatus.RETRY, reason=f"smpp: {error}", maybe_sent=index > 0)
            except TimeoutError as error:
                return SendResult(SendStatus.RETRY, reason=f"smpp: {error}", maybe_sent=True)
            outcome = classify(status)
            if outcome is not SendStatus.SENT:
                name = status_name(status)
                log.warning("smpp submit refused", extra={"status": name, "recipient": mask_phone(recipient)})
                return SendResult(outcome, provider_status=name, reason=name, maybe_sent=index > 0)
            part_ids.append(part_id)
        # The first part's id names the message; every part's comes back in its own receipt.
        return SendResult(
            SendStatus.SENT,
            provider_message_id=part_ids[0] or None,
            provider_status="ESME_ROK",
            provider_part_ids=tuple(part_ids) if len(part_ids) > 1 else (),
        )
