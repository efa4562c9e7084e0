"""The SMS senders besides Africa's Talking, and the choice among them (`SMS_BACKEND`)."""

from __future__ import annotations

import itertools
import logging
import sys
import threading
from collections import deque
from dataclasses import dataclass
from typing import TextIO

from gateway.config import Settings
from gateway.logs import mask_phone
from gateway.sms.africastalking import AfricasTalkingSmsSender
from gateway.sms.interfaces import SendResult, SendStatus, SmsSender

log = logging.getLogger(__name__)


class ConsoleSmsSender:
    """Development: the message is logged and its full text printed (production refuses it)."""

    name = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._ids = itertools.count(1)

    def send(self, *, recipient: str, body: str) -> SendResult:
        message_id = f"console-{next(self._ids)}"
        log.info("sms sent to the console", extra={"recipient": mask_phone(recipient), "message_id": message_id})
        # The JSON log masks every digit run that looks like a phone (references too): the
        # full text goes to the terminal as it would reach the phone.
        stream = self._stream or sys.stderr
        stream.write(f"--- SMS to {mask_phone(recipient)} ---\n{body}\n---\n")
        stream.flush()
        return SendResult(SendStatus.SENT, provider_message_id=message_id, provider_status="Console")


@dataclass(frozen=True)
class SentSms:
    recipient: str
    body: str


class FakeSmsSender:
    """Tests: records what was sent; `script(...)` sets the next results (then: sent)."""

    name = "fake"

    def __init__(self) -> None:
        self.sent: list[SentSms] = []
        self._script: deque[SendResult] = deque()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def script(self, *results: SendResult) -> None:
        with self._lock:
            self._script.extend(results)

    def send(self, *, recipient: str, body: str) -> SendResult:
        with self._lock:
            self.sent.append(SentSms(recipient, body))
            if self._script:
                return self._script.popleft()
            return SendResult(SendStatus.SENT, provider_message_id=f"fake-{next(self._ids)}", provider_status="Success")


class SmppElsewhereSender:
    """SMS_BACKEND=smpp outside the SMPP process: rows go to `flask smpp run` through Redis
    (gateway/sms/dispatch.py), so nothing here sends; a stray call is retried later."""

    name = "smpp"

    def send(self, *, recipient: str, body: str) -> SendResult:
        return SendResult(SendStatus.RETRY, reason="smpp: only `flask smpp run` sends")


def make_sender(settings: Settings) -> SmsSender:
    if settings.sms_backend == "africastalking":
        return AfricasTalkingSmsSender(
            username=settings.at_username,
            api_key=settings.at_api_key,
            sender_id=settings.at_sender_id,
            base_url=settings.at_api_base_url,
            timeout_seconds=settings.at_timeout_seconds,
        )
    if settings.sms_backend == "smpp":
        return SmppElsewhereSender()
    if settings.sms_backend == "fake":
        return FakeSmsSender()
    return ConsoleSmsSender()
