"""Hops per second of the gateway against a minimal Flask+Redis baseline, in one run.

    python bench/hops.py [--mix all|menus|status|full] [--duration 10] [--connections 32]
                         [--artisans 500000] [--workers N] [--only TEXT] [--open-seconds 15]

Creates a database of its own (dropped at the end), migrates it, loads the demo, N
generated artisans (AMO contributors with three months due) and 64 agents; then, for
each mix of sessions in turn (menus, status, full), runs one after another for the same
duration and concurrency:

- the baseline: bench/baseline_app.py under gunicorn with 5 sync workers (one Redis GET
  and one SET per request, nothing else);
- the gateway as the Procfile's `web:` runs it (granian, its workers and threads);
- for the full mix: the baseline app under granian (what the server alone gives), the
  gateway with 1, 2 and 4 granian workers, and as two instances on the same Redis and
  PostgreSQL;
- the baseline again: ratios are to the mean of its two runs (these machines drift).

wrk drives each with bench/sessions.lua: real sessions, for a new artisan each round
(menus: the language menu and back; status: a status check; full: status check, pay 3
months to the reference, the agent confirms the cash). Then the open loop: the full mix
at a steady half of the Procfile run's maximum (bench/openloop.lua), its latencies
counted from when each hop was due. Prints a table per mix of hops/s, p50, p99, errors
and the ratio to the baseline, the open loop's percentiles and the Redis memory of a
live session, and writes them to bench/results/hops.md (history in hops.jsonl).
Needs wrk (Debian package `wrk`, built with LuaJIT), PostgreSQL and Redis on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import re
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
MIXES = {
    "menus": "the language menu and back, no SQL after the dial (the 3-hop walk the frameworks serve, twice)",
    "status": "status checks only",
    "full": "status check, pay 3 months, agent confirms",
}
MIXES_FIRST = next(iter(MIXES))
BASELINE = "baseline: Flask + Redis GET and SET, gunicorn 5 sync workers"
PROCFILE = "gateway, granian {workers} workers (Procfile web:)"
# The Procfile's WEB_CONCURRENCY default: its `web:` line, as the gateway is run.
PROCFILE_WEB = (ROOT / "Procfile").read_text()
WORKERS = int(re.search(r"WEB_CONCURRENCY:-(\d+)", PROCFILE_WEB).group(1))  # type: ignore[union-attr]
THREADS = int(re.search(r"--blocking-threads (\d+)", PROCFILE_WEB).group(1))  # type: ignore[union-attr]

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
            argv = (
                [executable]
                + [part.format(port=port, workers=workers, threads=THREADS) for part in command[1:]]
                + [app]
            )
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


def drive(
    bases: list[str], mode: str, offset: int, seconds: int, connections: int, mix: str, rate: float = 0
) -> dict[str, float]:
    """wrk on every base at once (connections shared out, one per wrk thread); summed hops,
    worst percentiles. `rate` (hops/s in all): open-loop at that pace (bench/openloop.lua)."""
    share = connections // len(bases)
    script = "openloop.lua" if rate else "sessions.lua"
    runs = []
    for index, base in enumerate(bases):
        argv = ["wrk", "-t", str(share), "-c", str(share), "-d", f"{seconds}s", "--latency"]
        argv += ["-s", str(ROOT / "bench" / script), base, "--", "/ussd/africastalking?key=" + KEY, mode]
        argv += [str(offset + index * share * STRIDE), mix]
        if rate:
            argv.append(f"{rate / connections:.4f}")
        runs.append(subprocess.Popen(argv, stdout=subprocess.PIPE, text=True))
    results, opened = [], []
    for run in runs:
        output, _ = run.communicate(timeout=seconds + 60)
        lines = output.splitlines()
        results.append(json.loads(next(line for line in lines if line.startswith("RESULT "))[len("RESULT ") :]))
        opened += [json.loads(line[len("OPENLOOP ") :]) for line in lines if line.startswith("OPENLOOP ")]
    summary = {
        "hops_per_s": sum(r["requests"] / r["seconds"] for r in results),
        "p50_ms": max(r["p50_ms"] for r in results),
        "p99_ms": max(r["p99_ms"] for r in results),
        "errors": sum(r["errors"] for r in results),
    }
    if opened:  # counted from when each request was due (one base: one line)
        summary.update({f"due_{name}": max(o[name] for o in opened) for name in ("p50_ms", "p90_ms", "p99_ms")})
    return summary


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


Run = tuple[str, list[str], str, int, int, str]  # name, command, app, instances, workers, mode


def runs_of(mix: str, workers: int, only: str = "") -> list[Run]:
    """The runs of one mix: the baseline, the gateway as the Procfile runs it, and for the
    full mix what the server alone gives and how the gateway grows (workers, instances).
    `only`: the baseline and the runs whose name holds it."""
    runs: list[Run] = [(BASELINE, GUNICORN, BASELINE_APP, 1, 5, "baseline")]
    if mix == "full":
        runs.append((f"baseline app, granian {workers} workers", GRANIAN, BASELINE_APP, 1, workers, "baseline"))
    runs.append((PROCFILE.format(workers=workers), GRANIAN, "wsgi:app", 1, workers, "gateway"))
    if mix == "full":
        grown = [n for n in (1, 2, 4) if n != workers]
        runs += [(f"gateway, granian {n} worker{'s' * (n > 1)}", GRANIAN, "wsgi:app", 1, n, "gateway") for n in grown]
        runs.append((f"gateway, 2 granian instances x {workers} workers", GRANIAN, "wsgi:app", 2, workers, "gateway"))
    return [run for index, run in enumerate(runs) if index == 0 or only in run[0]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--artisans", type=int, default=500_000)
    parser.add_argument("--workers", type=int, default=WORKERS, help="granian workers per instance (the Procfile's)")
    parser.add_argument("--only", default="", help="run only the runs whose name holds this text (and the baseline)")
    parser.add_argument(
        "--mix",
        choices=("all", *MIXES),
        default="all",
        help="all three in turn (the default), all three sessions (full), status checks only (reads), "
        "or menus only (no SQL after the dial)",
    )
    parser.add_argument("--open-seconds", type=int, default=15, help="the open-loop run (0: none)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install -y wrk")
    mixes = list(MIXES) if args.mix == "all" else [args.mix]
    plans = {mix: runs_of(mix, args.workers, args.only) for mix in mixes}
    # Only the gateway's runs use artisans (a warm-up and a run each, then the open loop).
    gateway_runs = sum(run[5] == "gateway" for runs in plans.values() for run in runs) + 1
    needed = gateway_runs * 2 * args.connections * STRIDE
    if args.artisans < needed:
        sys.exit(f"--artisans must be at least {needed} (each run pays for new artisans)")
    url = create_database("hirfa_bench")
    token = secrets.token_hex(4)
    prefix, queue = f"hirfa-bench:{token}:", f"hirfa-bench-{token}"
    tables: dict[str, dict[str, dict[str, float]]] = {}
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
        for mix, runs in plans.items():
            results = tables[mix] = {}
            # The baseline runs again at the end: these machines drift within a run, and the
            # ratios are taken to the mean of its two runs.
            for name, command, app, instances, workers, mode in [*runs, (AGAIN, *runs[0][1:])]:
                with servers(command, app, env, instances, workers) as bases:
                    drive(bases, mode, offset, 3, args.connections, mix)  # warm-up
                    if mode == "gateway":
                        offset += args.connections * STRIDE
                    results[name] = drive(bases, mode, offset, args.duration, args.connections, mix)
                    if mode == "gateway":
                        offset += args.connections * STRIDE
                print(mix, name, json.dumps(results[name]))
                if mix == "full" and name == AGAIN:
                    memory = memory_per_key(prefix)
            write_table(mix, results, args)
        procfile = PROCFILE.format(workers=args.workers)
        if args.open_seconds and "full" in tables and procfile in tables["full"]:
            # Latency under a steady load, not at saturation: half the full mix's maximum.
            rate = tables["full"][procfile]["hops_per_s"] / 2
            with servers(GRANIAN, "wsgi:app", env, 1, args.workers) as bases:
                opened = drive(bases, "gateway", offset, args.open_seconds, args.connections, "full", rate)
            write_open_loop(rate, opened, args)
    finally:
        drop_database(url)
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=prefix + "*", count=1000):
            client.delete(key)
        for pattern in ("hirfa-baseline:*", f"rq:queue:{queue}", f"rq:job:{prefix.replace(':', '-')}*"):
            for key in client.scan_iter(match=pattern, count=1000):
                client.delete(key)
    if memory:
        parts = ", ".join(f"{name} {size:.0f}" for name, size in memory.items())
        write(f"Redis memory of a live session (full mix), in bytes: {parts}; in all {sum(memory.values()):.0f}.\n")
    with (ROOT / "bench" / "results" / "hops.jsonl").open("a") as history:
        record = {"date": str(dt.date.today()), "results": tables, "redis_bytes": memory}
        history.write(json.dumps(record) + "\n")


def write(text: str) -> None:
    """Print `text` and add it to bench/results/hops.md (begun afresh by each run)."""
    print(text)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    with (out / "hops.md").open("a") as results:
        results.write(text + "\n")


def write_table(mix: str, results: dict[str, dict[str, float]], args: argparse.Namespace) -> None:
    first = next(iter(results.values()))["hops_per_s"]
    baseline = (first + results[AGAIN]["hops_per_s"]) / 2 if AGAIN in results else first
    buffer = io.StringIO()
    buffer.write(
        f"{dt.date.today()}, {CORES} cores, {args.connections} concurrent sessions, {args.duration} s each, "
        f"{args.artisans:,} artisans; mix `{mix}`: " + MIXES[mix] + ":\n\n"
        "| server | hops/s | p50 ms | p99 ms | errors | ratio to baseline (mean of its 2 runs) |\n"
        "|---|---|---|---|---|---|\n"
    )
    for name, r in results.items():
        buffer.write(
            f"| {name} | {r['hops_per_s']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['errors']:.0f} "
            f"| {r['hops_per_s'] / baseline:.2f} |\n"
        )
    if mix == MIXES_FIRST and (ROOT / "bench" / "results" / "hops.md").exists():
        (ROOT / "bench" / "results" / "hops.md").unlink()
    write(buffer.getvalue())


def write_open_loop(rate: float, r: dict[str, float], args: argparse.Namespace) -> None:
    write(
        f"Open loop, full mix, {args.connections} connections at a steady {rate:.0f} hops/s in all (half the "
        f"Procfile run's maximum), {args.open_seconds} s: answered {r['hops_per_s']:.0f} hops/s, "
        f"latency from when each hop was due: p50 {r['due_p50_ms']:.1f} ms, p90 {r['due_p90_ms']:.1f} ms, "
        f"p99 {r['due_p99_ms']:.1f} ms; errors {r['errors']:.0f} (targets: p50 <= 5 ms, p99 <= 25 ms).\n"
    )


if __name__ == "__main__":
    main()
