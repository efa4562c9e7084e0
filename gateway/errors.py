"""One error type for every refusal with a code, whoever refuses (a service, a key check,
the API's own parsing): the code is stable (the API's error codes, the menus' messages),
the message is for people and never holds what was typed. The HTTP status is the web
edge's choice (gateway/web/api.py STATUS_BY_CODE), and the menus map codes to texts."""

from __future__ import annotations


class Refusal(Exception):
    def __init__(self, code: str, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after  # seconds, when waiting helps (rate limits)
