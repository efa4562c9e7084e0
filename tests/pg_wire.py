"""A TCP proxy in front of PostgreSQL that counts round trips as the server sees them.

A client waits for the server once per Query message (the simple protocol: BEGIN,
COMMIT) and once per Sync (the extended protocol: Parse/Bind/Execute then Sync, one
statement with its parameters). The proxy counts those two, and keeps each round trip's
SQL (the Query's text, or the last Parse's; a statement psycopg prepared earlier is sent
without its text). Connect with sslmode=disable and gssencmode=disable: it reads the
clear protocol."""

from __future__ import annotations

import socket
import struct
import threading
from types import TracebackType

UNTYPED = {80877103, 80877104}  # SSLRequest, GSSENCRequest: refused below by the server


class WireCounter:
    def __init__(self, host: str = "127.0.0.1", port: int = 5432) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sent: list[str] = []
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def __enter__(self) -> WireCounter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.closed = True
        self.listener.close()

    def take(self) -> list[str]:
        """The round trips counted since the last take."""
        with self.lock:
            taken, self.sent = self.sent, []
        return taken

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._pipe, args=(server, client), daemon=True).start()
            threading.Thread(target=self._frontend, args=(client, server), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                sock.close()

    def _frontend(self, client: socket.socket, server: socket.socket) -> None:
        buffer, started, parsed = b"", False, "(prepared)"
        try:
            while chunk := client.recv(65536):
                server.sendall(chunk)
                buffer += chunk
                while True:
                    if not started:  # untyped: startup, or a request to encrypt
                        if len(buffer) < 8:
                            break
                        length, code = struct.unpack("!II", buffer[:8])
                        if len(buffer) < length:
                            break
                        buffer, started = buffer[length:], code not in UNTYPED
                        continue
                    if len(buffer) < 5:
                        break
                    kind, length = buffer[:1], struct.unpack("!I", buffer[1:5])[0]
                    if len(buffer) < 1 + length:
                        break
                    body, buffer = buffer[5 : 1 + length], buffer[1 + length :]
                    if kind == b"Q":
                        self._count(body.rstrip(b"\0").decode())
                    elif kind == b"P":  # statement name, then the query
                        parsed = body.split(b"\0")[1].decode()
                    elif kind == b"S":
                        self._count(parsed)
                        parsed = "(prepared)"
        except OSError:
            pass
        finally:
            for sock in (client, server):
                sock.close()

    def _count(self, sql: str) -> None:
        with self.lock:
            self.sent.append(" ".join(sql.split()))
