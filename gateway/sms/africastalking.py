"""Africa's Talking SMS: the sender over the official SDK, and its status vocabulary.

What the SDK (2.0.x) really does, and what we do about it:

- It fixes its host from the username (sandbox or live). `SMSService` builds
  `_baseUrl` (host + `/version1`) in its constructor and reads it on every send, so
  `AT_API_BASE_URL` (a host like `https://api.africastalking.com`) replaces it right after
  construction. We build our own `SMSService` instead of `africastalking.initialize()`,
  which would set module globals shared by every app in the process (and build seven
  other services we do not use).
- Any non-2xx answer raises `AfricasTalkingException` whose only content is the body
  text: the HTTP status is lost. We retry those (a 401 is our key, a 5xx is theirs:
  either way the message should leave once it is fixed) and give up after the retry cap.
- Connection trouble surfaces as plain `requests` exceptions.
- The result is a dict only when the content type is exactly `application/json`;
  `application/json; charset=utf-8` gives the raw text, which we parse ourselves.
- It checks numbers (`+` and digits) before any request and raises `ValueError`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from africastalking.Service import AfricasTalkingException
from africastalking.SMS import SMSService
from urllib3.exceptions import NewConnectionError

from gateway.logs import mask_phone
from gateway.phones import InvalidPhone, caller_e164
from gateway.sms.interfaces import SendResult, SendStatus

log = logging.getLogger(__name__)

# Per-recipient `statusCode` of a send, as Africa's Talking documents them.
STATUS_CODES = {
    100: "Processed",
    101: "Sent",
    102: "Queued",
    401: "RiskHold",
    402: "InvalidSenderId",
    403: "InvalidPhoneNumber",
    404: "UnsupportedNumberType",
    405: "InsufficientBalance",
    406: "UserInBlacklist",
    407: "CouldNotRoute",
    409: "DoNotDisturbRejection",
    500: "InternalServerError",
    501: "GatewayError",
    502: "RejectedByGateway",
}
ACCEPTED_CODES = frozenset({100, 101, 102})
# The number or its owner refuses the message: sending it again changes nothing.
PERMANENT_CODES = frozenset({403, 404, 406, 409, 502})
# Ours to fix (sender id, balance): retried so the messages still leave once it is fixed.
CONFIGURATION_CODES = frozenset({402, 405})
# Everything else (401 RiskHold, 407 CouldNotRoute, 500, 501, codes not listed) is retried.

# Delivery report `status` values.
DELIVERED_STATUSES = frozenset({"Success"})
FAILED_STATUSES = frozenset({"Failed", "Rejected"})
INTERIM_STATUSES = frozenset({"Sent", "Submitted", "Buffered"})

PROVIDER_STATUS_LENGTH = 40
REASON_LENGTH = 200


def classify(code: int) -> SendStatus:
    """What a per-recipient status code means for the outbox row."""
    if code in ACCEPTED_CODES:
        return SendStatus.SENT
    if code in PERMANENT_CODES:
        return SendStatus.FAILED
    return SendStatus.RETRY


class AfricasTalkingSmsSender:
    name = "africastalking"

    def __init__(
        self,
        *,
        username: str,
        api_key: str,
        sender_id: str = "",
        base_url: str = "",
        timeout_seconds: float = 10.0,
    ) -> None:
        self._service = SMSService(username, api_key)
        if base_url:
            self._service._baseUrl = base_url.rstrip("/") + "/version1"
        self._sender_id = sender_id or None
        # (connect, read): connecting should take well under the read budget.
        self._timeout = (min(3.05, timeout_seconds), timeout_seconds)

    @property
    def messaging_url(self) -> str:
        url: str = self._service._make_url("/messaging")
        return url

    def send(self, *, recipient: str, body: str) -> SendResult:
        try:
            answer = self._service.send(body, [recipient], sender_id=self._sender_id, timeout=self._timeout)
        except ValueError:
            return SendResult(SendStatus.FAILED, provider_status="InvalidPhoneNumber", reason="invalid phone number")
        except AfricasTalkingException as error:
            text = " ".join(str(error).split())[:REASON_LENGTH]
            log.warning("africastalking refused the request", extra={"answer": text})
            return SendResult(SendStatus.RETRY, reason=f"HTTP error: {text}")
        except requests.exceptions.ConnectTimeout:
            return SendResult(SendStatus.RETRY, reason="connect timeout")
        except requests.exceptions.ReadTimeout:
            # Our request went out; Africa's Talking may have taken it before we stopped waiting.
            return SendResult(SendStatus.RETRY, reason="read timeout", maybe_sent=True)
        except requests.exceptions.ConnectionError as error:
            refused = _never_connected(error)
            return SendResult(
                SendStatus.RETRY,
                reason="connection refused" if refused else "connection lost",
                maybe_sent=not refused,
            )
        except requests.exceptions.RequestException as error:
            return SendResult(SendStatus.RETRY, reason=f"request failed: {type(error).__name__}", maybe_sent=True)
        return self._result(answer, recipient)

    def _result(self, answer: object, recipient: str) -> SendResult:
        try:
            data: Any = json.loads(answer) if isinstance(answer, str) else answer
            message_data = data["SMSMessageData"]
            recipients = message_data.get("Recipients") or []
        except (ValueError, TypeError, KeyError, AttributeError):
            log.error("africastalking answered 2xx with an unreadable body", extra={"answer": str(answer)[:200]})
            return SendResult(SendStatus.RETRY, reason="unreadable answer", maybe_sent=True)
        if not recipients:
            # A refusal of the whole request (e.g. "InvalidSenderId") comes with no recipient.
            summary = str(message_data.get("Message", ""))[:REASON_LENGTH]
            log.error("africastalking took no recipient", extra={"answer": summary})
            return SendResult(
                SendStatus.RETRY, provider_status=summary[:PROVIDER_STATUS_LENGTH] or None, reason=summary or "none"
            )
        entry = _entry_for(recipients, recipient)
        try:
            code = int(entry.get("statusCode", ""))
        except (TypeError, ValueError):
            code = -1
        status_text = str(entry.get("status") or STATUS_CODES.get(code, code))[:PROVIDER_STATUS_LENGTH]
        outcome = classify(code)
        if outcome is SendStatus.SENT:
            message_id = str(entry.get("messageId") or "") or None
            return SendResult(SendStatus.SENT, provider_message_id=message_id, provider_status=status_text)
        name = STATUS_CODES.get(code, "unknown")
        if code in CONFIGURATION_CODES or code not in STATUS_CODES:
            log.error(
                "africastalking status needs attention",
                extra={"status_code": code, "status": status_text, "recipient": mask_phone(recipient)},
            )
        return SendResult(outcome, provider_status=status_text, reason=f"{code} {name}")


def _entry_for(recipients: list[Any], recipient: str) -> Mapping[str, Any]:
    for entry in recipients:
        if isinstance(entry, Mapping) and entry.get("number") == recipient:
            return entry
    first = recipients[0]
    return first if isinstance(first, Mapping) else {}


def _never_connected(error: requests.exceptions.ConnectionError) -> bool:
    """True when the connection was refused or never made: nothing can have been sent."""
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, NewConnectionError)


# Callbacks ----------------------------------------------------------------------------------


class InvalidCallback(ValueError):
    """A callback that is not what Africa's Talking sends; answered 400."""


MESSAGE_ID = re.compile(r"^[A-Za-z0-9_\-.:]{1,128}$")
STATUS_WORD = re.compile(r"^[A-Za-z]{1,40}$")
MAX_INBOUND_TEXT = 1600
STOP_WORDS = frozenset({"stop", "توقف"})
START_WORDS = frozenset({"start"})


@dataclass(frozen=True)
class DeliveryReport:
    message_id: str
    status: str
    failure_reason: str | None
    network_code: str | None
    retry_count: int | None


@dataclass(frozen=True)
class InboundSms:
    message_id: str
    sender: str  # E.164
    text: str

    @property
    def keyword(self) -> str | None:
        """`stop`, `start`, or None: the whole message, case and punctuation aside."""
        word = re.sub(r"[\s.!,;:،؛]+", "", self.text).casefold()
        if word in STOP_WORDS:
            return "stop"
        if word in START_WORDS:
            return "start"
        return None


def _required(form: Mapping[str, str], name: str, pattern: re.Pattern[str]) -> str:
    value = (form.get(name) or "").strip()
    if not value:
        raise InvalidCallback(f"missing field: {name}")
    if not pattern.match(value):
        raise InvalidCallback(f"malformed field: {name}")
    return value


def parse_delivery_report(form: Mapping[str, str]) -> DeliveryReport:
    retry = (form.get("retryCount") or "").strip()
    if retry and not (retry.isascii() and retry.isdigit() and len(retry) <= 6):
        raise InvalidCallback("malformed field: retryCount")
    reason = (form.get("failureReason") or "").strip()[:120] or None
    network = (form.get("networkCode") or "").strip()[:16] or None
    return DeliveryReport(
        message_id=_required(form, "id", MESSAGE_ID),
        status=_required(form, "status", STATUS_WORD),
        failure_reason=reason,
        network_code=network,
        retry_count=int(retry) if retry else None,
    )


def parse_inbound(form: Mapping[str, str]) -> InboundSms:
    message_id = _required(form, "id", MESSAGE_ID)
    raw_phone = (form.get("from") or "").strip()
    if not raw_phone:
        raise InvalidCallback("missing field: from")
    try:
        sender = caller_e164(raw_phone)
    except InvalidPhone:
        raise InvalidCallback("malformed field: from") from None
    text = form.get("text")
    if text is None:
        raise InvalidCallback("missing field: text")
    if len(text) > MAX_INBOUND_TEXT:
        raise InvalidCallback("malformed field: text")
    return InboundSms(message_id=message_id, sender=sender, text=text)
