"""What the local stand-ins of outside services share (Africa's Talking SMS and Voice,
Azure Speech): an HTTP server on 127.0.0.1 in a thread of its own, scripted answer modes,
and writing an answer to a client that may have given up waiting. Each fake says what
it checks and answers in `_handle`."""

from __future__ import annotations

import abc
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (killed worker, timeout) is not an error worth printing."""


class LocalFake(abc.ABC):
    """A fake service: `start()`/`stop()` or `with`; `script(*modes)` answers the next
    requests with these modes, then with `default_mode`."""

    name = "fake"
    default_mode = "success"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._modes: deque[str] = deque()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = _QuietServer((host, port), Handler)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=self.name, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def script(self, *modes: str) -> None:
        """Answer the next requests with these modes, then with `default_mode`."""
        with self._lock:
            self._modes.extend(modes)

    def next_mode(self) -> str:
        with self._lock:
            return self._modes.popleft() if self._modes else self.default_mode

    @abc.abstractmethod
    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        """Answer one POST (its checks, its recording, its answer by the scripted mode)."""

    @staticmethod
    def _send(request: BaseHTTPRequestHandler, status: int, content_type: str, body: str | bytes) -> None:
        payload = body.encode() if isinstance(body, str) else body
        try:
            request.send_response(status)
            request.send_header("Content-Type", content_type)
            request.send_header("Content-Length", str(len(payload)))
            request.end_headers()
            request.wfile.write(payload)
        except OSError:
            pass  # the client gave up waiting
