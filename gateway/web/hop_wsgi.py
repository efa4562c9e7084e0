"""The hop's lean WSGI path: `POST /ussd/<aggregator>` answered in front of Flask.

`HopDispatcher` wraps the Flask app's own `wsgi_app` (create_app installs it, so the
test client, granian and gunicorn all go through it): a hop skips Flask's routing, its
request object, its session cookie and its error handlers, which cost more than a
menus hop's own work; everything else goes on to Flask. The hop itself is the same:
the app's settings and services (an app context is pushed, so `hirfa()` and `get_db()`
work and the database session is closed at teardown as for any request), the same
callback rules (gateway/web/auth.py), the same `run_hop` with its metrics, masked logs
and polite END. What this module adds is only what Flask did for the hop: the body
size cap (413), reading the form, and a plain-text answer that is never a 5xx.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from flask import Flask, Request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from gateway.metrics import REJECTED
from gateway.ussd.interfaces import bilingual
from gateway.ussd.service import UNAVAILABLE
from gateway.web.ussd import answer_form, authorised_adapter, refusal_body, trace_without_messages

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)
PREFIX = "/ussd/"
URLENCODED = "application/x-www-form-urlencoded"
CONTENT_TYPE = ("Content-Type", "text/plain; charset=utf-8")
STATUS = {code: f"{code} {HTTPStatus(code).phrase}" for code in (200, 400, 403, 404, 413)}


class HopDispatcher:
    """Hops to the lean handler, every other request to `fallback` (Flask's own wsgi_app)."""

    def __init__(self, app: Flask, fallback: WSGIApplication, max_body_bytes: int) -> None:
        self.app = app
        self.fallback = fallback
        self.max_body_bytes = max_body_bytes

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path: str = environ.get("PATH_INFO", "")
        if path.startswith(PREFIX) and environ.get("REQUEST_METHOD") == "POST":
            aggregator = path[len(PREFIX) :]
            if aggregator and "/" not in aggregator:
                status, body = self.hop(environ, aggregator)
                data = body.encode()
                start_response(STATUS.get(status) or str(status), [CONTENT_TYPE, ("Content-Length", str(len(data)))])
                return [data]
        return self.fallback(environ, start_response)

    def hop(self, environ: WSGIEnvironment, aggregator: str) -> tuple[int, str]:
        with self.app.app_context():
            try:
                adapter = authorised_adapter(
                    aggregator, "hop", key=_query_key(environ), remote_addr=environ.get("REMOTE_ADDR")
                )
                form = self.form(environ)
                if form is None:
                    REJECTED.labels("hop", "size").inc()
                    return 413, refusal_body()
                return answer_form(adapter, form)
            except HTTPException as refusal:  # NotFound, Forbidden: still a last screen
                return refusal.code or 400, refusal_body()
            except Exception as error:  # run_hop answers its own failures: this is anything before it
                log.error(
                    "hop failed before the menus",
                    extra={
                        "correlation_id": uuid.uuid4().hex,
                        "error": type(error).__qualname__,
                        "trace": trace_without_messages(error),
                    },
                )
                return 200, "END " + bilingual(UNAVAILABLE)

    def form(self, environ: WSGIEnvironment) -> Mapping[str, str] | None:
        """The posted form (first value of each field, as Flask's request.form.get), or
        None when the body is over the cap: refused before it is read."""
        try:
            length = int(environ.get("CONTENT_LENGTH") or -1)
        except ValueError:
            length = -1
        if length > self.max_body_bytes:
            return None
        mimetype = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
        if mimetype != URLENCODED:
            return _form_by_werkzeug(environ, self.max_body_bytes)  # multipart and the like: rare
        stream = environ["wsgi.input"]
        if length >= 0:
            raw = stream.read(length)
        elif environ.get("wsgi.input_terminated"):  # chunked: read up to the cap and one byte more
            raw = stream.read(self.max_body_bytes + 1)
            if len(raw) > self.max_body_bytes:
                return None
        else:
            raw = b""
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            return {}  # no field readable: the adapter refuses it as invalid
        form: dict[str, str] = {}
        for name, value in parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote"):
            form.setdefault(name, value)
        return form


def _query_key(environ: WSGIEnvironment) -> str:
    query: str = environ.get("QUERY_STRING", "")
    if "key=" not in query:
        return ""
    for name, value in parse_qsl(query, keep_blank_values=True, errors="werkzeug.url_quote"):
        if name == "key":
            return value
    return ""


def _form_by_werkzeug(environ: WSGIEnvironment, max_body_bytes: int) -> Mapping[str, str] | None:
    request = Request(environ)
    request.max_content_length = max_body_bytes
    try:
        return {name: request.form[name] for name in request.form}
    except RequestEntityTooLarge:
        return None
    except HTTPException:  # a malformed body: no field readable
        return {}


def install(app: Flask, max_body_bytes: int) -> None:
    """Put the hop's lean path in front of `app`'s own WSGI callable."""
    app.wsgi_app = HopDispatcher(app, app.wsgi_app, max_body_bytes)  # type: ignore[method-assign]
