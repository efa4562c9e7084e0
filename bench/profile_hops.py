"""Where a hop's time goes: the sessions of bench/sessions.lua run in process through
the WSGI app (what granian calls), under cProfile, on a database of its own.

    python bench/profile_hops.py [--mix menus|status|full] [--rounds 300] [--top 25]

Prints the wall time per hop without the profiler, then the functions that take the
most time per hop (cumulative, in microseconds) with it. No server, no sockets but
PostgreSQL's and Redis's: what is left is the hop's own code.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import re
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
from sqlalchemy import event  # noqa: E402

from bench.hops import KEY, REDIS_URL, seed  # noqa: E402
from tests.conftest import create_database, drop_database  # noqa: E402

Hop = tuple[str, str, str]  # session id, phone, text
REFERENCE = re.compile(r"(\d{3})-(\d{3})-(\d{4})")
DONE = "تم تسجيل الأداء"  # "Payment recorded", in the agents' default language


def walks(mix: str, rounds: int, first: int) -> Iterator[tuple[str, str, list[str]]]:
    """(kind, phone, texts) per session, as bench/sessions.lua sends them, from round
    `first` (two artisans a round); "{ref}" stands for the reference the pay session read."""
    for r in range(first, first + rounds):
        status = ("status", f"+2126{10000000 + 2 * r:08d}", ["", "1", "1*98"])
        if mix == "status":
            yield status
        elif mix == "menus":
            texts = ["", "6", "6*0", "6*0*6", "6*0*6*0", "6*0*6*0*6", "6*0*6*0*6*0"]
            yield ("menus", f"+2126{10000000 + 2 * r:08d}", texts)
        else:
            yield status
            yield ("pay", f"+2126{10000000 + 2 * r + 1:08d}", ["", "2", "2*2", "2*2*3", "2*2*3*1", "2*2*3*1*1"])
            agent = f"+2127{10000000 + r % 64:08d}"
            yield ("agent", agent, ["", "1234", "1234*1", "1234*1*{ref}", "1234*1*{ref}*1"])


def environ(session_id: str, phone: str, text: str) -> dict[str, Any]:
    body = (
        f"sessionId={session_id}&serviceCode=%2A4242%23&networkCode=60401&phoneNumber={quote(phone)}&text={quote(text)}"
    ).encode()
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/ussd/africastalking",
        "QUERY_STRING": "key=" + KEY,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


def run(
    app: Callable[..., Any],
    mix: str,
    rounds: int,
    tag: str,
    first: int = 0,
    after_hop: Callable[[str, int], None] = lambda kind, index: None,
) -> int:
    """Walk `rounds` rounds of `mix`; returns the number of hops. Fails on a wrong answer
    (as bench/sessions.lua counts errors). `after_hop(kind, index)`: called after each hop."""
    hops, reference = 0, ""
    for number, (kind, phone, texts) in enumerate(walks(mix, rounds, first)):
        session_id = f"prof-{tag}-{number}"
        for index, text in enumerate(texts):
            status: list[str] = []
            chunks = app(environ(session_id, phone, text.replace("{ref}", reference)), _recorder(status))
            body = b"".join(chunks).decode()
            if hasattr(chunks, "close"):
                chunks.close()
            hops += 1
            after_hop(kind, index)
            last = index == len(texts) - 1
            if not status[0].startswith("200") or body[:4] not in ("CON ", "END "):
                raise SystemExit(f"hop failed: {status} {body!r}")
            if kind == "pay" and last:
                found = REFERENCE.search(body)
                if not found:
                    raise SystemExit(f"no reference on the pay session's last screen: {body!r}")
                reference = "".join(found.groups())
            if kind == "agent" and last and DONE not in body:
                raise SystemExit(f"the agent's payment was not recorded: {body!r}")
    return hops


def count_work(app: Any, mix: str, rounds: int, first: int) -> str:
    """Redis round trips (every command or pipeline sent, whoever sends it: session store,
    rate limit, SMS queue) and SQL statements with their COMMITs and ROLLBACKs per hop, as
    SQLAlchemy sends them (psycopg's own BEGINs are not seen here; on the wire, count with
    a protocol-level counter)."""
    from gateway import db  # noqa: PLC0415

    redis_sent, sql_sent = [0], [0]
    send = redis.connection.AbstractConnection.send_packed_command

    def counting_send(self: Any, command: Any, check_health: bool = True) -> None:
        redis_sent[0] += 1
        send(self, command, check_health)

    def count_sql(*_args: Any, **_kwargs: Any) -> None:
        sql_sent[0] += 1

    engine = app.extensions[db.EXTENSION].kw["bind"]
    hops: list[tuple[str, int, int, int]] = []  # kind, index in its session, Redis, SQL

    def after_hop(kind: str, index: int) -> None:
        hops.append((kind, index, redis_sent[0], sql_sent[0]))
        redis_sent[0] = sql_sent[0] = 0

    redis.connection.AbstractConnection.send_packed_command = counting_send  # type: ignore[method-assign]
    events = ("before_cursor_execute", "commit", "rollback")
    for name in events:
        event.listen(engine, name, count_sql)
    try:
        run(app, mix, rounds, f"work-{mix}", first, after_hop)
    finally:
        redis.connection.AbstractConnection.send_packed_command = send  # type: ignore[method-assign]
        for name in events:
            event.remove(engine, name, count_sql)
    per_round = len(hops) / rounds
    redis_counts = [r for _, _, r, _ in hops]
    after_dial = [q for _, index, _, q in hops if index > 0]
    sql_by_kind: dict[str, int] = {}
    for kind, _, _, q in hops:
        sql_by_kind[kind] = sql_by_kind.get(kind, 0) + q
    kinds = ", ".join(f"{kind} {total / rounds:.1f}" for kind, total in sql_by_kind.items())
    over = sorted({f"{kind} hop {index + 1} ({r})" for kind, index, r, _ in hops if r > 2})
    beyond = f" (more than 2: {', '.join(over)}: the SMS queued after the commit)" if over else ""
    return (
        f"{mix}: {len(hops)} hops ({per_round:.0f} a cycle): Redis round trips per hop: at most "
        f"{max(redis_counts)}{beyond}, {sum(redis_counts) / len(hops):.2f} on average; SQL statements and COMMITs per "
        f"{per_round:.0f}-hop cycle: {sum(q for *_, q in hops) / rounds:.1f} ({kinds}); "
        f"on a hop after the dial: at most {max(after_dial)}"
    )


def _recorder(status: list[str]) -> Callable[..., None]:
    """A WSGI start_response that keeps the status line."""

    def start_response(line: str, _headers: object, _exc_info: object = None) -> None:
        status.append(line)

    return start_response


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mix", choices=("menus", "status", "full"), default="menus")
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--dump", default="", help="also write the profile here (pstats, for snakeviz and the like)")
    parser.add_argument(
        "--work",
        action="store_true",
        help="count instead of profiling: Redis round trips and SQL statements per hop, for every mix",
    )
    args = parser.parse_args()
    url = create_database("hirfa_profile")
    token = secrets.token_hex(4)
    prefix = f"hirfa-profile:{token}:"
    try:
        span = 2 * args.rounds + args.rounds // 3 + 1  # rounds a mix uses: warm-up, timed, profiled
        seed(url, 2 * 3 * span)  # two artisans a round, three mixes (--work)
        os.environ.update(
            HIRFA_ENV="development",
            DATABASE_URL=url,
            REDIS_URL=REDIS_URL,
            REDIS_PREFIX=prefix,
            USSD_CALLBACK_KEY=KEY,
            LOG_LEVEL="WARNING",
            SMS_BACKEND="fake",
            SMS_QUEUE=f"hirfa-profile-{token}",
            USSD_HOPS_PER_PHONE_PER_MINUTE="100000",
        )
        import wsgi  # noqa: PLC0415 (after the environment is set)

        if args.work:
            run(wsgi.app, "menus", 3, "warm")  # connections opened, imports done: not a hop's work
            for number, mix in enumerate(("menus", "status", "full")):
                print(count_work(wsgi.app, mix, min(args.rounds, 50), span * number + 3))
            return

        # Warm-up (imports, catalogues, connection pool), then timed, then profiled:
        # each on artisans of its own (the full mix pays for them).
        warm = max(args.rounds // 3, 1)
        run(wsgi.app, args.mix, warm, "warm")
        started, cpu = time.perf_counter(), time.process_time()
        hops = run(wsgi.app, args.mix, args.rounds, "timed", warm)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        print(
            f"{args.mix}: {hops} hops in process (no profiler): {elapsed / hops * 1e3:.3f} ms per hop, "
            f"of which CPU {cpu / hops * 1e3:.3f} ms (the rest: waiting for Redis and PostgreSQL)"
        )
        profiler = cProfile.Profile()
        profiler.enable()
        profiled = run(wsgi.app, args.mix, args.rounds, "prof", warm + args.rounds)
        profiler.disable()
        if args.dump:
            profiler.dump_stats(args.dump)
        _report(profiler, profiled, args.top)
    finally:
        drop_database(url)
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=prefix + "*", count=1000):
            client.delete(key)
        for key in client.scan_iter(match=f"rq:*hirfa-profile-{token}*", count=1000):
            client.delete(key)


def _report(profiler: cProfile.Profile, hops: int, top: int) -> None:
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    rows = []
    for (filename, line, name), (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        where = filename.replace(str(ROOT) + "/", "").replace(sys.prefix, "<venv>")
        rows.append((cumtime, tottime, calls, f"{where}:{line}({name})"))
    rows.sort(reverse=True)
    print(f"per hop, under cProfile ({hops} hops): cumulative us, own us, calls per hop, function")
    for cumtime, tottime, calls, name in rows[:top]:
        print(f"{cumtime / hops * 1e6:9.1f} {tottime / hops * 1e6:8.1f} {calls / hops:7.2f}  {name}")
    print("own time, the heaviest:")
    rows.sort(key=lambda row: row[1], reverse=True)
    for cumtime, tottime, calls, name in rows[:top]:
        print(f"{cumtime / hops * 1e6:9.1f} {tottime / hops * 1e6:8.1f} {calls / hops:7.2f}  {name}")


if __name__ == "__main__":
    main()
