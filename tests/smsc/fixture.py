"""The test SMSC (tests/smsc/server.js, the npm package `smpp`) as a pytest fixture."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
SYSTEM_ID = "hirfa"
PASSWORD = "secret"


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Smsc:
    port: int
    control: int
    process: subprocess.Popen[bytes]

    def call(self, path: str, method: str = "POST") -> Any:
        request = urllib.request.Request(f"http://127.0.0.1:{self.control}{path}", method=method)
        with urllib.request.urlopen(request, timeout=5) as answer:
            return json.loads(answer.read())

    def pdus(self, kind: str | None = None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.call("/pdus", "GET")
        return [pdu for pdu in found if kind is None or pdu["kind"] == kind]


def ensure_node_modules() -> None:
    if not (HERE / "node_modules" / "smpp").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True, capture_output=True)


@contextmanager
def running_smsc() -> Iterator[Smsc]:
    """The SMSC on free ports of 127.0.0.1, stopped at the end (tests and bench/smpp.py)."""
    if shutil.which("node") is None:
        raise RuntimeError("node is required: the test SMSC is the npm package smpp")
    ensure_node_modules()
    port, control = free_port(), free_port()
    command = ["node", str(HERE / "server.js"), "--port", str(port), "--control", str(control)]
    command += ["--system-id", SYSTEM_ID, "--password", PASSWORD]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    found = Smsc(port, control, process)
    deadline = time.monotonic() + 10
    while True:
        try:
            found.pdus()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise
            time.sleep(0.05)
    try:
        yield found
    finally:
        process.terminate()
        process.wait(timeout=5)


@pytest.fixture(scope="module")
def smsc() -> Iterator[Smsc]:
    with running_smsc() as found:
        yield found
