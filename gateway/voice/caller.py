"""Calls out over Africa's Talking's SDK (`VoiceService.call`).

What the SDK (2.0.x) does, and what we do about it (as for SMS, gateway/sms/africastalking.py):

- `VoiceService` fixes its host from the username in its constructor (`https://voice.` +
  africastalking.com, or the sandbox's) and `call()` posts to `_baseUrl + "/call"`; so
  `AT_VOICE_API_BASE_URL` replaces `_baseUrl` right after construction (the local fake in
  tests). We build our own `VoiceService` instead of `africastalking.initialize()` (module
  globals, seven services we do not use).
- `call(callFrom, callTo: list)` checks each number (`+` and digits) and raises ValueError
  before any request; a non-2xx answer raises AfricasTalkingException with the body only.
- The answer is `{"entries": [{"phoneNumber", "status": "Queued", "sessionId"}],
  "errorMessage": "None"}`: the call is placed when its entry says Queued; the sessionId
  names it in AT's callbacks (the first XML request and the final isActive=0 one).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import requests
from africastalking.Service import AfricasTalkingException
from africastalking.Voice import VoiceService

from gateway.config import Settings

log = logging.getLogger(__name__)

REASON_LENGTH = 200


@dataclass(frozen=True)
class CallResult:
    placed: bool
    session_id: str | None = None
    reason: str | None = None


class AfricasTalkingCaller:
    def __init__(
        self, *, username: str, api_key: str, number: str, base_url: str = "", timeout_seconds: float = 10.0
    ) -> None:
        self._service = VoiceService(username, api_key)
        if base_url:
            self._service._baseUrl = base_url.rstrip("/")
        self._number = number
        self._timeout = (min(3.05, timeout_seconds), timeout_seconds)

    @classmethod
    def from_settings(cls, settings: Settings) -> AfricasTalkingCaller:
        return cls(
            username=settings.at_username,
            api_key=settings.at_api_key,
            number=settings.at_voice_number,
            base_url=settings.at_voice_api_base_url,
            timeout_seconds=settings.at_timeout_seconds,
        )

    @property
    def call_url(self) -> str:
        url: str = self._service._make_url("/call")
        return url

    def call(self, phone: str) -> CallResult:
        """Ask AT to call `phone` from our voice number. Never raises."""
        try:
            answer = self._service.call(self._number, [phone], timeout=self._timeout)
        except ValueError:
            return CallResult(False, reason="invalid phone number")
        except AfricasTalkingException as error:
            return CallResult(False, reason="HTTP error: " + " ".join(str(error).split())[:REASON_LENGTH])
        except requests.exceptions.RequestException as error:
            return CallResult(False, reason=f"request failed: {type(error).__name__}")
        return _result(answer, phone)


def _result(answer: object, phone: str) -> CallResult:
    try:
        data: Any = json.loads(answer) if isinstance(answer, str) else answer
        entries = data.get("entries") or []
        error = data.get("errorMessage")
    except (ValueError, TypeError, AttributeError):
        return CallResult(False, reason="unreadable answer")
    entry = next((e for e in entries if isinstance(e, dict) and e.get("phoneNumber") == phone), None)
    if entry is None and entries and isinstance(entries[0], dict):
        entry = entries[0]
    if entry is None:
        return CallResult(False, reason=f"no entry: {error}"[:REASON_LENGTH])
    status = str(entry.get("status") or "")
    session_id = str(entry.get("sessionId") or "") or None
    if status != "Queued" or session_id in (None, "None"):
        return CallResult(False, reason=f"{status or 'refused'}: {error}"[:REASON_LENGTH])
    return CallResult(True, session_id=session_id)
