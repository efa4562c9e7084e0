"""A local stand-in for Africa's Talking's call API (`POST /call` on voice.africastalking.com),
for tests and for trying calls out by hand (`python -m gateway.voice.fake_africastalking_voice`
prints its base URL: AT_VOICE_API_BASE_URL).

It answers as scripted:

- `success`: 200 JSON, the entry `Queued` with a fresh `ATVId_…` sessionId
- `invalid_number`: 200 JSON, the entry `InvalidPhoneNumber`, sessionId `None`
- `server_error`: 500 plain text;  `unauthorized`: 401 (also what a wrong apiKey gets)

Every request is recorded (callFrom, callTo, username, the sessionId given) before it is answered."""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

from gateway.sms.fake_africastalking import API_KEY, AfricasTalkingFake


@dataclass(frozen=True)
class ReceivedCall:
    call_from: str
    call_to: str
    username: str
    session_id: str | None
    answered: str  # the mode used to answer


class FakeAfricasTalkingVoice(AfricasTalkingFake[ReceivedCall]):
    name = "fake-at-voice"
    path = "/call"

    def calls_to(self, phone: str) -> list[ReceivedCall]:
        with self.arrived:
            return [call for call in self.received if call.call_to == phone]

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        form = self._form(request)
        if form is None:
            return
        mode = self.next_mode()
        phone = form.get("to", "")
        session_id = f"ATVId_{uuid.uuid4().hex}" if mode == "success" else None
        self._record(ReceivedCall(form.get("from", ""), phone, form.get("username", ""), session_id, mode))
        if mode == "server_error":
            self._send(request, 500, "text/plain", "Internal Server Error")
        elif mode == "unauthorized":
            self._send(request, 401, "text/plain", "The supplied authentication is invalid")
        else:
            status = "Queued" if session_id else "InvalidPhoneNumber"
            entry = {"phoneNumber": phone, "status": status, "sessionId": session_id or "None"}
            body = {"entries": [entry], "errorMessage": "None" if session_id else "Invalid phone number"}
            self._send(request, 200, "application/json", json.dumps(body))


if __name__ == "__main__":
    server = FakeAfricasTalkingVoice().start()
    print(f"fake Africa's Talking voice at {server.base_url} (AT_VOICE_API_BASE_URL), apiKey {API_KEY}")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()
