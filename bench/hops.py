"""Hops per second and latency of the gateway under its production servers.

    python bench/hops.py [--duration 15] [--connections 32] [--artisans 20000]

Creates a database of its own (dropped at the end), migrates it, loads the demo and
N generated artisans, then for each server (gunicorn sync workers, granian) starts the
gateway on 127.0.0.1, drives it with wrk walking real sessions (dial, status, next
page) and prints a table; the same table is written to bench/results/hops.md.
Needs wrk (Debian package `wrk`), PostgreSQL and Redis on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from gateway.demo import load_demo  # noqa: E402
from models import Artisan  # noqa: E402
from tests.conftest import create_database, drop_database  # noqa: E402

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
KEY = "bench-callback-key-0123456789abcdef"
CORES = os.cpu_count() or 2
SERVERS = {
    "gunicorn (sync, 2n+1 workers)": [
        "gunicorn",
        "--workers",
        str(2 * CORES + 1),
        "--bind",
        "127.0.0.1:{port}",
        "--log-level",
        "warning",
        "wsgi:app",
    ],
    "granian (wsgi, n workers)": [
        "granian",
        "--interface",
        "wsgi",
        "--workers",
        str(CORES),
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--log-level",
        "warning",
        "--no-ws",
        "wsgi:app",
    ],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(url: str, artisans: int) -> None:
    engine = create_engine(url)
    now = dt.datetime.now(dt.UTC)
    with Session(engine) as session:
        load_demo(session, clock=lambda: now)
        rows = [
            dict(
                rna_number=f"BENCH-{i:07d}",
                cin=f"BE{i:07d}",
                first_name="Bench",
                last_name="Artisan",
                birth_year=1980,
                phone=f"+2126{10000000 + i:08d}",
                trade="pottery",
                category="artisan",
                contribution_category="rna_no_income_tax",
                province_code="03.231",
                commune_code="03.231.01.0",
                rna_status="registered",
                amo_status="pre_registered",
                created_at=now,
                updated_at=now,
            )
            for i in range(artisans)
        ]
        for start in range(0, len(rows), 5000):
            session.execute(insert(Artisan), rows[start : start + 5000])
        session.commit()
    engine.dispose()


def wait_ready(base: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not become ready")


def run_server(name: str, command: list[str], env: dict[str, str], args: argparse.Namespace) -> dict[str, float]:
    port = free_port()
    argv = [
        str(ROOT / ".venv" / "bin" / command[0])
        if (ROOT / ".venv" / "bin" / command[0]).exists()
        else shutil.which(command[0]) or command[0]
    ] + [part.format(port=port) for part in command[1:]]
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base)
        path = f"/ussd/africastalking?key={KEY}"
        wrk = [
            "wrk",
            "-t",
            str(args.connections),
            "-c",
            str(args.connections),
            "-d",
            "3s",
            "-s",
            str(ROOT / "bench" / "ussd.lua"),
            base,
            "--",
            path,
        ]
        subprocess.run(wrk, capture_output=True, check=True)  # warm-up
        wrk[wrk.index("3s")] = f"{args.duration}s"
        output = subprocess.run(wrk, capture_output=True, text=True, check=True).stdout
        line = next(line for line in output.splitlines() if line.startswith("RESULT "))
        result = json.loads(line[len("RESULT ") :])
        result["hops_per_s"] = result["requests"] / result["seconds"]
        return result
    finally:
        process.terminate()
        process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--artisans", type=int, default=20000)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install -y wrk")
    url = create_database("hirfa_bench")
    prefix = f"hirfa-bench:{secrets.token_hex(4)}:"
    try:
        seed(url, args.artisans)
        env = {
            **os.environ,
            "HIRFA_ENV": "development",
            "DATABASE_URL": url,
            "REDIS_URL": REDIS_URL,
            "REDIS_PREFIX": prefix,
            "USSD_CALLBACK_KEY": KEY,
            "LOG_LEVEL": "WARNING",
        }
        results = {name: run_server(name, command, env, args) for name, command in SERVERS.items()}
    finally:
        drop_database(url)
        import redis  # noqa: PLC0415

        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=prefix + "*", count=1000):
            client.delete(key)
    table = [
        f"Hops on {CORES} cores, {args.connections} concurrent sessions, {args.duration} s each, "
        f"{args.artisans + 4} artisans, {dt.date.today()}:",
        "",
        "| server | hops/s | p50 ms | p99 ms | max ms | errors |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        table.append(
            f"| {name} | {r['hops_per_s']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
            f"{r['max_ms']:.1f} | {r['errors']} |"
        )
    text = "\n".join(table)
    print(text)
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "hops.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
