"""A local stand-in for Africa's Talking's SMS API, for tests, benchmarks and trying the
real sender by hand (`python -m gateway.sms.fake_africastalking` prints its base URL).

It answers `POST /version1/messaging` the way Africa's Talking does, as scripted:

- `success`: 201, `application/json`, statusCode 101 and a fresh `ATXid_…` message id
- `charset`: the same with `application/json; charset=utf-8` (the SDK then returns text)
- `unauthorized`: 401 plain text (also what a wrong apiKey header gets)
- `server_error`: 500 plain text
- `slow`: waits `slow_seconds`, then success
- `invalid_number`: 201 JSON with statusCode 403 InvalidPhoneNumber
- `status:<code>`: 201 JSON with that per-recipient statusCode

Every request is recorded (recipient, text, sender id) before it is answered."""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Generic, TypeVar
from urllib.parse import parse_qs

from gateway.local_fake import LocalFake
from gateway.sms.africastalking import STATUS_CODES

API_KEY = "fake-at-api-key"
Received = TypeVar("Received")


@dataclass(frozen=True)
class ReceivedSms:
    recipient: str
    message: str
    sender_id: str | None
    username: str
    answered: str  # the mode used to answer


class AfricasTalkingFake(LocalFake, Generic[Received]):
    """What Africa's Talking's APIs share: a form POST to one path, the `apiKey` header
    (401 otherwise), every request recorded before it is answered."""

    path = "/"

    def __init__(self, *, api_key: str = API_KEY, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host=host, port=port)
        self.api_key = api_key
        self.received: list[Received] = []
        self.arrived = threading.Condition()

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        """Block until `count` requests have arrived (answered or not)."""
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.received) >= count, timeout)

    def _form(self, request: BaseHTTPRequestHandler) -> dict[str, str] | None:
        """The request's form, or None once refused (another path: 404; a wrong key: 401)."""
        length = int(request.headers.get("Content-Length") or 0)
        form = {key: values[0] for key, values in parse_qs(request.rfile.read(length).decode()).items()}
        if request.path != self.path:
            self._send(request, 404, "text/plain", "Not Found")
            return None
        if request.headers.get("apiKey") != self.api_key:
            self._send(request, 401, "text/plain", "The supplied authentication is invalid")
            return None
        return form

    def _record(self, received: Received) -> None:
        with self.arrived:
            self.received.append(received)
            self.arrived.notify_all()


class FakeAfricasTalking(AfricasTalkingFake[ReceivedSms]):
    name = "fake-at"
    path = "/version1/messaging"

    def __init__(self, *, api_key: str = API_KEY, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(api_key=api_key, host=host, port=port)
        self.slow_seconds = 5.0

    def messages_to(self, recipient: str) -> list[str]:
        with self.arrived:
            return [sms.message for sms in self.received if sms.recipient == recipient]

    # Serving --------------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        form = self._form(request)
        if form is None:
            return
        mode = self.next_mode()
        recipient = form.get("to", "")
        self._record(ReceivedSms(recipient, form.get("message", ""), form.get("from"), form.get("username", ""), mode))
        if mode == "slow":
            time.sleep(self.slow_seconds)
            mode = "success"
        if mode == "unauthorized":
            self._send(request, 401, "text/plain", "The supplied authentication is invalid")
        elif mode == "server_error":
            self._send(request, 500, "text/plain", "Internal Server Error")
        elif mode == "invalid_number":
            self._json(request, recipient, 403)
        elif mode.startswith("status:"):
            self._json(request, recipient, int(mode.partition(":")[2]))
        elif mode == "charset":
            self._json(request, recipient, 101, content_type="application/json; charset=utf-8")
        else:
            self._json(request, recipient, 101)

    def _json(
        self, request: BaseHTTPRequestHandler, recipient: str, code: int, content_type: str = "application/json"
    ) -> None:
        accepted = code in (100, 101, 102)
        entry = {
            "statusCode": code,
            "number": recipient,
            "status": "Success" if accepted else STATUS_CODES.get(code, "Unknown"),
            "cost": "MAD 0.2500" if accepted else "0",
            "messageId": f"ATXid_{uuid.uuid4().hex}" if accepted else "None",
        }
        summary = "Sent to 1/1 Total Cost: MAD 0.2500" if accepted else "Sent to 0/1 Total Cost: 0"
        body = json.dumps({"SMSMessageData": {"Message": summary, "Recipients": [entry]}})
        self._send(request, 201, content_type, body)


if __name__ == "__main__":
    server = FakeAfricasTalking().start()
    print(f"fake Africa's Talking at {server.base_url} (AT_API_BASE_URL), apiKey {API_KEY}")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()
