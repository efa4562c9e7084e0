"""SMS over SMPP: `python bench/smpp.py [--rows 2000] [--window 10]`.

Two figures through one bind to the local test SMSC (tests/smsc/server.js, the npm
package `smpp`, started here on free ports):
- link: submit_sm -> submit_sm_resp through SmppSmsSender alone (`window` threads);
- USSD: sessions dialed over SMPP (a dial, then `1` the status: two hops each) by the
  SMSC's control port; a hop's latency is from the control call to its answer's
  submit_sm in the SMSC's log (polled every 2 ms: it includes that HTTP call);
- outbox: N outbox rows committed on a database of its own (dropped at the end) and real
  Redis, sent by the SMPP process (`flask smpp run`'s SmppProcess, in a thread): claim,
  submit, record, as in production. Timed from the first commit to the last row `sent`.
SMPP_MAX_PER_SECOND is set high so that the pacing does not cap what is measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import secrets
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from gateway import create_app  # noqa: E402
from gateway.config import Settings  # noqa: E402
from gateway.db import get_db  # noqa: E402
from gateway.demo import load_demo  # noqa: E402
from gateway.smpp_app import app_smpp_process  # noqa: E402
from gateway.sms.outbox import queue_sms  # noqa: E402
from gateway.sms.smpp import SmppConnection, SmppSmsSender  # noqa: E402
from models import OutboxMessage  # noqa: E402
from tests.conftest import REDIS_URL, create_database, dispose, drop_database  # noqa: E402
from tests.smsc.fixture import PASSWORD, SYSTEM_ID, Smsc, running_smsc  # noqa: E402

TEXT = "Votre reference de paiement est 12345678, valable trois jours."


def link(port: int, rows: int, window: int) -> float:
    connection = SmppConnection(
        host="127.0.0.1",
        port=port,
        system_id=SYSTEM_ID,
        password=PASSWORD,
        window=window,
        max_per_second=100_000,
        on_deliver=lambda _pdu: 0,
    )
    thread = threading.Thread(target=connection.run, daemon=True)
    thread.start()
    assert connection.wait_bound(5)
    sender = SmppSmsSender(connection, source_addr="HIRFA")
    started = time.perf_counter()
    with ThreadPoolExecutor(window) as pool:
        results = list(pool.map(lambda _i: sender.send(recipient="+212600000001", body=TEXT), range(rows)))
    elapsed = time.perf_counter() - started
    connection.stop()
    thread.join(5)
    assert all(r.status == "sent" for r in results)
    return rows / elapsed


def _own_app(port: int, window: int, **changes: object) -> tuple[Flask, str]:
    url = create_database("hirfa_bench_smpp")
    settings = Settings(
        env="development",
        database_url=url,
        redis_url=REDIS_URL,
        redis_prefix=f"bench-smpp-{secrets.token_hex(4)}:",
        secret_key="bench-" + secrets.token_hex(32),
        log_level="WARNING",
        sms_backend="smpp",
        sms_quiet_hours="",
        smpp_host="127.0.0.1",
        smpp_port=port,
        smpp_system_id=SYSTEM_ID,
        smpp_password=PASSWORD,
        smpp_source_addr="HIRFA",
        smpp_window=window,
        smpp_max_per_second=10_000,
        database_pool_size=window + 5,
        ussd_hops_per_phone_per_minute=0,
        **changes,  # type: ignore[arg-type]
    )
    return create_app(settings), url


def outbox(port: int, rows: int, window: int) -> float:
    app, url = _own_app(port, window)
    process = app_smpp_process(app)
    thread = threading.Thread(target=process.run, daemon=True)
    try:
        thread.start()
        assert process.connection.wait_bound(5)
        started = time.perf_counter()
        with app.app_context():
            db = get_db()
            for start in range(0, rows, 500):
                for _ in range(start, min(start + 500, rows)):
                    queue_sms(db, recipient="+212600000001", language="fr", template="sms_stopped", urgent=True)
                db.commit()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            with app.app_context():
                sent = get_db().scalar(select(func.count()).where(OutboxMessage.state == "sent"))
            if sent == rows:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        return rows / elapsed
    finally:
        process.stop()
        thread.join(10)
        dispose(app)
        drop_database(url)


def ussd(found: Smsc, sessions: int) -> list[float]:
    """Milliseconds per hop over SMPP, `sessions` x (dial, then `1`)."""
    app, url = _own_app(found.port, 10)
    with app.app_context():
        db = get_db()
        load_demo(db, clock=lambda: dt.datetime.now(dt.UTC))
        db.commit()
    process = app_smpp_process(app)
    thread = threading.Thread(target=process.run, daemon=True)
    timings: list[float] = []
    try:
        thread.start()
        assert process.connection.wait_bound(5)
        for index in range(sessions):
            for turn, (text, op) in enumerate((("*4242#", 1), ("1", 18))):
                before = len(found.pdus("submit"))
                info = f"{index % 256:02x}{turn << 1:02x}"
                query = urllib.parse.urlencode({"from": "212600000001", "text": text, "op": op, "session": info})
                started = time.perf_counter()
                found.call(f"/ussd?{query}")
                while len(found.pdus("submit")) == before:
                    time.sleep(0.002)
                timings.append((time.perf_counter() - started) * 1000)
        return timings
    finally:
        process.stop()
        thread.join(10)
        dispose(app)
        drop_database(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--sessions", type=int, default=100)
    args = parser.parse_args()
    with running_smsc() as found:
        # USSD first: a hop's answer is found by polling the SMSC's log of PDUs, which the
        # SMS runs fill with thousands (each poll then returns them all: ~35 ms more a hop).
        hops = sorted(ussd(found, args.sessions))
        p50, p99 = hops[len(hops) // 2], hops[min(len(hops) - 1, int(len(hops) * 0.99))]
        print(f"USSD:   hop p50 {p50:.1f} ms, p99 {p99:.1f} ms ({len(hops)} hops over SMPP, SMSC to SMSC)")
        shown = f"(window {args.window}, {args.rows} SMS)"
        print(f"link:   {link(found.port, args.rows, args.window):7.0f} SMS/s {shown}")
        print(f"outbox: {outbox(found.port, args.rows, args.window):7.0f} SMS/s {shown}")


if __name__ == "__main__":
    main()
