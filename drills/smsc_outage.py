"""Drill: the SMSC stopped for a while under a stream of SMS over SMPP, then started again.

The SMSC is the npm `smpp` server (tests/smsc/server.js) on a port of its own; `flask smpp
run` (the Procfile's `smpp:` line, SMS_BACKEND=smpp) holds the bind. The SMS are committed
to the outbox at once (the dispatcher pushes their ids to Redis after the commit) and
stream out through the window. When the SMSC has received part of them it stops answering
(its `/hold`: the window fills with submits it has received, in flight) and is killed
(SIGKILL: a crash, no unbind), kept down, and started again on the same port with a fresh PDU log. The SMPP
process must rebind by itself; `flask sms sweep` (every second here, as the clock would
every minute) puts back what the outage left retrying. Counted from the SMSC's PDU logs
(what it really received), not only the outbox: every SMS received, none lost, and only
the submits in flight at the crash received twice, each flagged `possible_duplicate`."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import psycopg

from drills.checks import Received, settle_sms
from drills.infra import ROOT, PreparedCluster, Stack, _stop_group, free_port, procfile_command, stack, wait_until
from drills.report import DrillResult
from gateway import create_app, db
from gateway.config import Settings
from gateway.db import get_db
from gateway.sms.outbox import queue_sms
from gateway.wiring import EXTENSION as HIRFA
from tests.smsc.fixture import PASSWORD, SYSTEM_ID, ensure_node_modules

NAME = "smsc-outage"
PHONE_BASE = 630_000_000  # +2126300xxxxx: one recipient per row
SERVER_JS = ROOT / "tests" / "smsc" / "server.js"
WINDOW = 10
REBIND_LIMIT_SECONDS = 35.0  # the link's backoff is capped at 30 s


@dataclass(frozen=True)
class Plan:
    messages: int
    outage_seconds: float


SHORT = Plan(messages=100, outage_seconds=5.0)
FULL = Plan(messages=500, outage_seconds=10.0)


class Smsc:
    """server.js on fixed ports (a restart comes back where the bind expects it); each run
    writes its PDU log (one JSON line per PDU received) to a file of its own."""

    def __init__(self, workdir: Path) -> None:
        self.port, self.control = free_port(), free_port()
        self.workdir = workdir
        self.runs = 0
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.runs += 1
        argv = ["node", str(SERVER_JS), "--port", str(self.port), "--control", str(self.control)]
        argv += ["--system-id", SYSTEM_ID, "--password", PASSWORD]
        with self.log(self.runs).open("ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        if not wait_until(lambda: any(pdu["kind"] == "ready" for pdu in self.pdus(self.runs)), 10):
            raise RuntimeError(f"the SMSC did not start: {self.log(self.runs).read_text()[-2000:]}")

    def hold(self) -> None:
        """From now on submit_sm are recorded and never answered: they stay in flight."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.control}/hold", method="POST")
        with urllib.request.urlopen(request, timeout=5):
            pass

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def close(self) -> None:
        if self.process is not None:
            _stop_group(self.process, timeout=5)
            self.process = None

    def log(self, run: int) -> Path:
        return self.workdir / f"smsc-{run}.log"

    def pdus(self, run: int | None = None) -> list[dict[str, object]]:
        """The PDUs of one run (or of all), read from the logs."""
        found: list[dict[str, object]] = []
        for number in [run] if run is not None else range(1, self.runs + 1):
            with contextlib.suppress(OSError):
                for line in self.log(number).read_text(errors="replace").splitlines():
                    with contextlib.suppress(ValueError):
                        found.append(json.loads(line))
        return found

    def bound(self, run: int) -> bool:
        """A bind with our system_id (and password: the log line is written before the
        server sets `accepted`, so it is not in the file) reached this run."""
        return any(pdu["kind"] == "bind" and pdu.get("system_id") == SYSTEM_ID for pdu in self.pdus(run))

    def received(self) -> Received:
        """(recipient, text) of every submit_sm received, over every run."""
        got: Received = Counter()
        for pdu in self.pdus():
            if pdu["kind"] == "submit":
                message = str(pdu.get("message", ""))
                if pdu.get("data_coding") == 8:
                    message = bytes.fromhex(message).decode("utf-16-be", errors="replace")
                got[(f"+{pdu['destination_addr']}", message)] += 1
        return got


def _smpp_env(built: Stack, smsc: Smsc) -> dict[str, str]:
    return {
        "SMS_BACKEND": "smpp",
        "SMPP_HOST": "127.0.0.1",
        "SMPP_PORT": str(smsc.port),
        "SMPP_SYSTEM_ID": SYSTEM_ID,
        "SMPP_PASSWORD": PASSWORD,
        "SMPP_SOURCE_ADDR": "HIRFA",
        "SMPP_WINDOW": str(WINDOW),
        "SMPP_MAX_PER_SECOND": "1000",
        "SMPP_METRICS_PORT": "0",
    }


def _start_smpp(built: Stack) -> subprocess.Popen[bytes]:
    """The Procfile's `smpp:` line."""
    with (built.workdir / "smpp.log").open("ab") as log:
        return subprocess.Popen(
            procfile_command("smpp", {}),
            cwd=ROOT,
            env=built.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _write(built: Stack, count: int) -> None:
    """Queue `count` SMS through the outbox service in one transaction (as the rq-worker
    drill does): the dispatcher pushes their ids to Redis after the commit, and the SMPP
    process streams them out through its window."""
    app = create_app(Settings.from_env(built.env()))
    try:
        with app.app_context():
            session = get_db()
            for n in range(count):
                queue_sms(
                    session, recipient=f"+212{PHONE_BASE + n}", language="fr", template="phone_linked", code="*4242#"
                )
            session.commit()
    finally:
        app.extensions[db.EXTENSION].kw["bind"].dispose()
        app.extensions[HIRFA].redis.close()


def _states(built: Stack) -> dict[str, int]:
    with psycopg.connect(built.postgres.plain_url) as connection:
        return dict(Counter(row[0] for row in connection.execute("SELECT state FROM sms_outbox")))


def _submits(smsc: Smsc) -> int:
    return sum(1 for pdu in smsc.pdus() if pdu["kind"] == "submit")


def _held(smsc: Smsc) -> int:
    return sum(1 for pdu in smsc.pdus() if pdu["kind"] == "submit" and pdu.get("held"))


def run(*, short: bool = False, template: PreparedCluster | None = None, echo: bool = True) -> DrillResult:
    plan = SHORT if short else FULL
    result = DrillResult(NAME, echo=echo)
    ensure_node_modules()
    rebind_s: float | None = None
    with stack(NAME, template=template, web_workers=0, rq_workers=0) as built, contextlib.ExitStack() as cleanup:
        smsc = Smsc(built.workdir)
        cleanup.callback(smsc.close)
        built.env_overrides = _smpp_env(built, smsc)
        smsc.start()
        smpp = _start_smpp(built)
        cleanup.callback(_stop_group, smpp, 5)
        result.step(
            f"started private redis :{built.redis.port}, postgres :{built.postgres.port}, "
            f"the SMSC (npm smpp) :{smsc.port} and `flask smpp run` (pid {smpp.pid}, SMS_BACKEND=smpp)"
        )
        if not wait_until(lambda: smsc.bound(1), 20):
            raise RuntimeError("`flask smpp run` never bound:\n" + built.log_tail())
        _write(built, plan.messages)
        result.step(f"bound; {plan.messages} SMS written to the outbox (one commit): the stream is on")
        if not wait_until(lambda: _submits(smsc) >= plan.messages * 3 // 10, 60):
            raise RuntimeError("the SMSC never received 30% of the stream:\n" + built.log_tail())
        smsc.hold()  # the window fills with submits the SMSC has but never answers
        wait_until(lambda: _held(smsc) >= WINDOW, 5)
        held = _held(smsc)
        smsc.kill()
        stopped = time.monotonic()
        at_crash = _states(built)
        result.step(
            f"SIGKILL the SMSC after {_submits(smsc)} submit_sm, the last {held} held unanswered (in flight); "
            f"outbox {at_crash}"
        )
        time.sleep(max(0.0, plan.outage_seconds - (time.monotonic() - stopped)))
        result.step(f"SMSC down {time.monotonic() - stopped:.1f} s; outbox {_states(built)}; starting it again")
        smsc.start()
        restarted = time.monotonic()
        if wait_until(lambda: smsc.bound(2), REBIND_LIMIT_SECONDS):
            rebind_s = time.monotonic() - restarted
            result.step(f"`flask smpp run` bound again by itself {rebind_s:.1f} s after the restart")
        else:
            result.step("`flask smpp run` did not bind again:\n" + built.log_tail())
        sms = settle_sms(built, limit=60.0, received=smsc.received)
        settle_s = time.monotonic() - restarted
        result.step(
            f"settled: {sms.sweeps} `flask sms sweep` run(s), {settle_s:.1f} s after the restart; "
            f"outbox {_states(built)}"
        )
        alive = smpp.poll() is None
        received = smsc.received()

    result.count(
        f"the SMSC's PDU logs: {sum(received.values())} submit_sm, {len(received)} distinct (recipient, text), "
        f"{sum(1 for n in received.values() if n > 1)} received twice"
    )
    result.count(
        f"in flight at the crash: {held} submit_sm received and unanswered (window {WINDOW}); "
        f"{at_crash.get('sending', 0)} row(s) `sending`"
    )
    result.count(sms.line())
    rebind = f"{rebind_s:.1f} s" if rebind_s is not None else "never"
    result.count(f"time to rebind: {rebind}; time to settle (from the restart): {settle_s:.1f} s")
    result.target(
        "the SMPP process rebound by itself (same process)",
        rebind_s is not None and alive,
        f"rebind {rebind}, process alive: {alive}",
    )
    result.target(
        "lost SMS: 0, every row sent and received by the SMSC",
        sms.lost == 0 and sms.sent == plan.messages and len(received) == plan.messages,
        sms.line(),
    )
    result.target("submits were in flight at the crash", 0 < held <= WINDOW, f"{held} held unanswered")
    result.target(
        "only submits in flight at the crash went twice, each flagged possible_duplicate",
        sms.unflagged_duplicates == 0 and sms.duplicates <= held,
        f"{sms.duplicates} received twice, {sms.flagged} flagged, {sms.unflagged_duplicates} unflagged",
    )
    result.summary.update({"down s": f"{plan.outage_seconds:.0f}", "recovery s": f"{settle_s:.1f}", **sms.columns()})
    return result
