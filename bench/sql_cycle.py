"""SQL round trips and CPU of the full mix's 14-hop cycle, in process:
`python bench/sql_cycle.py [--cycles 200]`.

On a database of its own (dropped at the end), reached through tests/pg_wire.py's
counting proxy, and real Redis: the demo and generated artisans (three months due each).
Each cycle walks bench/sessions.lua's full mix with the Flask test client: a status check
(3 hops), paying 3 months to a new reference (6 hops), the demo Wafacash agent confirming
the cash (5 hops). Prints the round trips per cycle (statements, BEGIN and COMMIT, as
PostgreSQL receives them) and this process's CPU per cycle (the HTTP server and
PostgreSQL's own CPU are not in it), median of five blocks after a warm-up. The proxy's
threads run in this process: `--direct` connects straight to PostgreSQL to time the CPU."""

from __future__ import annotations

import argparse
import datetime as dt
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from redis import Redis  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from gateway import create_app  # noqa: E402
from gateway.config import Settings  # noqa: E402
from gateway.demo import copy_contributors, load_demo  # noqa: E402
from tests.conftest import CALLBACK_KEY, REDIS_URL, create_database, dispose, drop_database  # noqa: E402
from tests.helpers import Dialer  # noqa: E402
from tests.pg_wire import WireCounter  # noqa: E402

PREFIX = "hirfa-bench-sql-cycle:"
DONE = "تم تسجيل الأداء"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--direct", action="store_true", help="no counting proxy (its threads' CPU is ours)")
    args = parser.parse_args()
    warm, blocks = 10, 5
    cycles = warm + blocks * max(1, args.cycles // blocks)
    url = create_database("hirfa_bench_sql_cycle")
    now = dt.datetime.now(dt.UTC)
    engine = create_engine(url)
    with Session(engine) as db:
        load_demo(db, clock=lambda: now)
        db.commit()
    engine.dispose()
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        copy_contributors(conn, count=2 * cycles, tag="CYCLE", phone=lambda i: f"+2126{30000000 + i:08d}", now=now)
        conn.execute("ANALYZE")
    wire = WireCounter()
    through = re.sub(r"@[^/]+/", f"@127.0.0.1:{wire.port}/", url) + "?sslmode=disable&gssencmode=disable"
    if args.direct:
        wire.close()
        through = url
    settings = Settings(
        env="development",
        database_url=through,
        redis_url=REDIS_URL,
        redis_prefix=PREFIX,
        ussd_callback_key=CALLBACK_KEY,
        log_level="WARNING",
        ussd_hops_per_phone_per_minute=100_000,  # one agent confirms for every artisan
    )
    app = create_app(settings)
    client = app.test_client()

    def post(path: str, form: dict[str, str]) -> tuple[int, str]:
        response = client.post(path, data=form)
        return response.status_code, response.get_data(as_text=True)

    def cycle(index: int) -> None:
        status = Dialer(post, f"+2126{30000000 + 2 * index:08d}", key=CALLBACK_KEY)
        status.start()
        status.send("1", "98")
        payer = Dialer(post, f"+2126{30000000 + 2 * index + 1:08d}", key=CALLBACK_KEY)
        payer.start()
        found = re.search(r"(\d{3})-(\d{3})-(\d{4})", payer.send("2", "2", "3", "1", "1"))
        assert found, payer.screens[-1]
        agent = Dialer(post, "+212700000001", key=CALLBACK_KEY)
        agent.start()
        assert DONE in agent.send("1234", "1", "".join(found.groups()), "1"), agent.screens[-1]

    try:
        for index in range(warm):
            cycle(index)
        per_block = (cycles - warm) // blocks
        cpu, wall, trips = [], [], []
        for block in range(blocks):
            wire.take()
            began, began_wall = time.process_time(), time.perf_counter()
            for index in range(warm + block * per_block, warm + (block + 1) * per_block):
                cycle(index)
            cpu.append((time.process_time() - began) * 1000 / per_block)
            wall.append((time.perf_counter() - began_wall) * 1000 / per_block)
            trips.append(len(wire.take()) / per_block)
        if not args.direct:
            print(f"round trips per cycle: {statistics.median(trips):.1f}")
        blocks_ms = ", ".join(f"{ms:.1f}" for ms in cpu)
        print(f"CPU per cycle (this process): {statistics.median(cpu):.1f} ms (blocks: {blocks_ms})")
        print(f"wall time per cycle (PostgreSQL and Redis included): {statistics.median(wall):.1f} ms")
    finally:
        dispose(app)
        wire.close()
        drop_database(url)
        redis = Redis.from_url(REDIS_URL)
        for key in redis.scan_iter(match=PREFIX + "*", count=1000):
            redis.delete(key)


if __name__ == "__main__":
    main()
