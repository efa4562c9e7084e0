"""Hops per second of the gateway against a minimal Flask+Redis baseline, in one run.

    python bench/hops.py [--duration 20] [--connections 32] [--artisans 500000]

Creates a database of its own (dropped at the end), migrates it, loads the demo, N
generated artisans (AMO contributors with three months due) and 64 agents; then runs,
one after another for the same duration and concurrency:

- the baseline: bench/baseline_app.py under gunicorn with 5 sync workers (one Redis GET
  and one SET per request, nothing else), then the same app under granian (what the
  server alone gives);
- the gateway under gunicorn (sync workers) and under granian (the Procfile's `web:`);
- the gateway as two granian instances on the same Redis and PostgreSQL;
- the baseline again: ratios are to the mean of its two runs (these machines drift).

wrk drives each with bench/sessions.lua: real sessions, for a new artisan each round
(status check; pay 3 months to the reference; the agent confirms the cash). Prints a
table of hops/s, p50, p99, errors and the ratio to the baseline, with the Redis memory
of a live session, and writes it to bench/results/hops.md (history in hops.jsonl).
Needs wrk (Debian package `wrk`), PostgreSQL and Redis on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import redis  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from gateway.demo import copy_contributors, load_demo  # noqa: E402
from gateway.payments.agents import ensure_cash_point, hash_pin  # noqa: E402
from tests.conftest import create_database, drop_database  # noqa: E402

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
KEY = "bench-callback-key-0123456789abcdef"
CORES = os.cpu_count() or 2
AGENTS = 64  # as in bench/sessions.lua
STRIDE = 1000  # artisans per connection and run, as in bench/sessions.lua
BIN = ROOT / ".venv" / "bin"
BASELINE_APP = "bench.baseline_app:app"
AGAIN = "baseline again, at the end"
THREADS = int(os.environ.get("BENCH_THREADS", "1"))
MIXES = {
    "full": "status check, pay 3 months, agent confirms",
    "status": "status checks only",
    "menus": "the language menu and back, no SQL after the dial",
}

GUNICORN = ["gunicorn", "--workers", "{workers}", "--bind", "127.0.0.1:{port}", "--log-level", "warning"]
GRANIAN = [
    "granian",
    "--interface",
    "wsgi",
    "--workers",
    "{workers}",
    "--blocking-threads",
    "{threads}",
    "--respawn-failed-workers",
    "--host",
    "127.0.0.1",
    "--port",
    "{port}",
    "--log-level",
    "warning",
    "--no-ws",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(url: str, artisans: int) -> None:
    """The demo, `artisans` contributors with three months due, and AGENTS agents."""
    engine = create_engine(url)
    now = dt.datetime.now(dt.UTC)
    with Session(engine) as session:
        load_demo(session, clock=lambda: now)
        point = ensure_cash_point(
            session,
            network="wafacash",
            code="BENCH-WFC",
            name="Wafacash Bench",
            address="1 rue du Banc",
            commune_code="03.231.01.0",
            opening_hours="9h-18h",
        )
        session.commit()
        point_id = point.id
    engine.dispose()
    pin_hash = hash_pin("1234")
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        copy_contributors(conn, count=artisans, tag="BENCH", phone=lambda i: f"+2126{10000000 + i:08d}", now=now)
        with (
            conn.cursor() as cursor,
            cursor.copy(
                "COPY agents (network, agent_code, phone, cash_point_id, pin_hash, status, failed_pin_attempts, "
                "created_at, updated_at) FROM STDIN"
            ) as copy,
        ):
            for i in range(AGENTS):
                row = ("wafacash", f"BENCH-{i:03d}", f"+2127{10000000 + i:08d}", point_id, pin_hash, "active", 0)
                copy.write_row((*row, now, now))
        conn.execute("ANALYZE")


def wait_ready(base: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{base} did not become ready")


@contextmanager
def servers(command: list[str], app: str, env: dict[str, str], instances: int, workers: int) -> Iterator[list[str]]:
    """`instances` servers of `command` serving `app`; yields their base URLs."""
    processes, bases = [], []
    executable = str(BIN / command[0]) if (BIN / command[0]).exists() else shutil.which(command[0]) or command[0]
    try:
        for _ in range(instances):
            port = free_port()
            argv = [executable] + [part.format(port=port, workers=workers, threads=THREADS) for part in command[1:]] + [app]
            processes.append(subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL))
            bases.append(f"http://127.0.0.1:{port}")
        for base in bases:
            wait_ready(base)
        yield bases
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=15)


def drive(bases: list[str], mode: str, offset: int, seconds: int, connections: int, mix: str) -> dict[str, float]:
    """wrk on every base at once (connections shared out); summed hops, worst percentiles."""
    share = connections // len(bases)
    runs = []
    for index, base in enumerate(bases):
        argv = ["wrk", "-t", str(share), "-c", str(share), "-d", f"{seconds}s", "--latency"]
        argv += ["-s", str(ROOT / "bench" / "sessions.lua"), base, "--", "/ussd/africastalking?key=" + KEY, mode]
        argv += [str(offset + index * share * STRIDE), mix]
        runs.append(subprocess.Popen(argv, stdout=subprocess.PIPE, text=True))
    results = []
    for run in runs:
        output, _ = run.communicate(timeout=seconds + 60)
        line = next(line for line in output.splitlines() if line.startswith("RESULT "))
        results.append(json.loads(line[len("RESULT ") :]))
    return {
        "hops_per_s": sum(r["requests"] / r["seconds"] for r in results),
        "p50_ms": max(r["p50_ms"] for r in results),
        "p99_ms": max(r["p99_ms"] for r in results),
        "errors": sum(r["errors"] for r in results),
    }


def memory_per_key(prefix: str) -> dict[str, float]:
    """Redis memory (MEMORY USAGE) of a live session's keys, averaged over samples: its
    record, the phone's resume point, and the phone's hop counter (rate limit)."""
    client = redis.Redis.from_url(REDIS_URL)
    patterns = {"session record": "ussd:africastalking:*", "resume point": "ussd-resume:*", "hop counter": "rl:*"}
    sizes = {}
    for name, pattern in patterns.items():
        sample = []
        for key in client.scan_iter(match=prefix + pattern, count=1000):
            sample.append(client.memory_usage(key) or 0)
            if len(sample) >= 500:
                break
        sizes[name] = sum(sample) / len(sample) if sample else 0.0
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--artisans", type=int, default=500_000)
    parser.add_argument("--workers", type=int, default=CORES, help="granian workers per instance")
    parser.add_argument("--only", default="", help="run only the runs whose name holds this text (and the baseline)")
    parser.add_argument(
        "--mix",
        choices=tuple(MIXES),
        default="full",
        help="all three sessions, status checks only (reads), or menus only (no SQL after the dial)",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install -y wrk")
    url = create_database("hirfa_bench")
    token = secrets.token_hex(4)
    prefix, queue = f"hirfa-bench:{token}:", f"hirfa-bench-{token}"
    runs = [
        # (name, command, app, instances, workers, mode)
        (
            "baseline: Flask + Redis GET and SET, gunicorn 5 sync workers",
            GUNICORN,
            BASELINE_APP,
            1,
            5,
            "baseline",
        ),
        # The headroom the server alone gives: the same minimal app under granian.
        (
            f"baseline app, granian {args.workers} workers",
            GRANIAN,
            "bench.baseline_app:app",
            1,
            args.workers,
            "baseline",
        ),
        ("gateway, gunicorn 5 sync workers", GUNICORN, "wsgi:app", 1, 5, "gateway"),
        (f"gateway, granian {args.workers} workers (Procfile web:)", GRANIAN, "wsgi:app", 1, args.workers, "gateway"),
        (f"gateway, 2 granian instances x {args.workers} workers", GRANIAN, "wsgi:app", 2, args.workers, "gateway"),
    ]
    runs = [run for index, run in enumerate(runs) if index == 0 or args.only in run[0]]
    needed = (len(runs) + 1) * 2 * args.connections * STRIDE
    if args.artisans < needed:
        sys.exit(f"--artisans must be at least {needed} (each run pays for new artisans)")
    results: dict[str, dict[str, float]] = {}
    memory: dict[str, float] = {}
    try:
        started = time.monotonic()
        seed(url, args.artisans)
        print(f"seeded {args.artisans} artisans and {AGENTS} agents in {time.monotonic() - started:.1f} s")
        env = {
            **os.environ,
            "HIRFA_ENV": "development",
            "DATABASE_URL": url,
            "REDIS_URL": REDIS_URL,
            "REDIS_PREFIX": prefix,
            "USSD_CALLBACK_KEY": KEY,
            "LOG_LEVEL": "WARNING",
            "SMS_BACKEND": "fake",
            "SMS_QUEUE": queue,  # jobs wait there (no worker): enqueuing is part of a hop's cost
            # 64 agents confirm for thousands of artisans: far above a person's pace.
            "USSD_HOPS_PER_PHONE_PER_MINUTE": "100000",
        }
        offset = 0
        # The baseline runs again at the end: these machines drift within a run, and the
        # ratios are taken to the mean of its two runs.
        for name, command, app, instances, workers, mode in [*runs, (AGAIN, *runs[0][1:])]:
            if name == AGAIN:
                memory = memory_per_key(prefix)
            with servers(command, app, env, instances, workers) as bases:
                drive(bases, mode, offset, 3, args.connections, args.mix)  # warm-up
                offset += args.connections * STRIDE
                results[name] = drive(bases, mode, offset, args.duration, args.connections, args.mix)
                offset += args.connections * STRIDE
            print(name, json.dumps(results[name]))
    finally:
        drop_database(url)
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=prefix + "*", count=1000):
            client.delete(key)
        for pattern in ("hirfa-baseline:*", f"rq:queue:{queue}", f"rq:job:{prefix.replace(':', '-')}*"):
            for key in client.scan_iter(match=pattern, count=1000):
                client.delete(key)
    write_table(results, memory, args)


def write_table(results: dict[str, dict[str, float]], memory: dict[str, float], args: argparse.Namespace) -> None:
    first = next(iter(results.values()))["hops_per_s"]
    baseline = (first + results[AGAIN]["hops_per_s"]) / 2 if AGAIN in results else first
    buffer = io.StringIO()
    buffer.write(
        f"{dt.date.today()}, {CORES} cores, {args.connections} concurrent sessions, {args.duration} s each, "
        f"{args.artisans:,} artisans; sessions: " + MIXES[args.mix] + ":\n\n"
        "| server | hops/s | p50 ms | p99 ms | errors | ratio to baseline (mean of its 2 runs) |\n"
        "|---|---|---|---|---|---|\n"
    )
    for name, r in results.items():
        buffer.write(
            f"| {name} | {r['hops_per_s']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['errors']:.0f} "
            f"| {r['hops_per_s'] / baseline:.2f} |\n"
        )
    parts = ", ".join(f"{name} {size:.0f}" for name, size in memory.items())
    buffer.write(f"\nRedis memory of a live session, in bytes: {parts}; in all {sum(memory.values()):.0f}.\n")
    text = buffer.getvalue()
    print(text)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "hops.md").write_text(text)
    with (out / "hops.jsonl").open("a") as history:
        record = {"date": str(dt.date.today()), "results": results, "redis_bytes": memory}
        history.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
