"""Run the fault drills and print what each did and counted, then a summary table.

    python -m drills.run [--short] [--granian-args "..."]
        [--only redis postgres rq-worker web-worker redis-freeze smsc-outage
                redis-failover postgres-failover web-instance haproxy]

Exits 1 when a drill misses a target (a hop slower than 1 s or a 5xx while a dependency
is down, service not back within 5 s, a payment or an SMS lost, ...). The last four run
the highly available topology (drills/topology.py, `make cluster`) through HAProxy."""

from __future__ import annotations

import argparse
import time
import traceback
from collections.abc import Callable

from drills import (
    haproxy_restart,
    postgres_failover,
    postgres_restart,
    redis_failover,
    redis_freeze,
    redis_outage,
    rq_worker_kill,
    smsc_outage,
    web_instance_kill,
    web_worker_kill,
)
from drills.infra import PreparedCluster
from drills.report import DrillResult

Drill = Callable[..., DrillResult]
DRILLS: dict[str, Drill] = {
    redis_outage.NAME: redis_outage.run,
    postgres_restart.NAME: postgres_restart.run,
    rq_worker_kill.NAME: rq_worker_kill.run,
    web_worker_kill.NAME: web_worker_kill.run,
    redis_freeze.NAME: redis_freeze.run,  # beyond the four: a Redis that hangs
    smsc_outage.NAME: smsc_outage.run,  # issue 13: the SMSC down under a stream of SMS over SMPP
    # Issue 16: the highly available topology (drills/topology.py), load through HAProxy.
    redis_failover.NAME: redis_failover.run,
    postgres_failover.NAME: postgres_failover.run,
    web_instance_kill.NAME: web_instance_kill.run,
    haproxy_restart.NAME: haproxy_restart.run,
}
COLUMNS = (
    "hops",
    "ENDs",
    "5xx",
    "errors",
    "down s",
    "max END ms",
    "recovery s",
    "payments",
    "lost pay",
    "doubled",
    "sms",
    "lost sms",
    "dup sms",
)


def table(results: list[DrillResult]) -> str:
    header = ["drill", *COLUMNS, "result"]
    rows = [[r.name, *(r.summary.get(column, "-") for column in COLUMNS), "PASS" if r.ok else "FAIL"] for r in results]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)) for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    notes = [
        "payments: receipts agents saw + references found already paid on a retry; dup sms: sent twice / flagged",
        "recovery s: after the dependency returned (or the last kill) until full service; rq-worker: outbox settled",
    ]
    return "\n".join(lines + notes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true", help="the quick versions (as in `make test`)")
    parser.add_argument("--only", nargs="+", choices=sorted(DRILLS), help="run these drills only")
    parser.add_argument("--granian-args", default="", help="extra granian options for the web-worker drill")
    args = parser.parse_args()
    chosen = args.only or list(DRILLS)
    results: list[DrillResult] = []
    started = time.monotonic()
    print(f"fault drills ({'short' if args.short else 'full'}): {', '.join(chosen)}", flush=True)
    with PreparedCluster() as template:
        for name in chosen:
            print(f"\n-- {name}", flush=True)
            extra = {"granian_extra": tuple(args.granian_args.split())} if name == web_worker_kill.NAME else {}
            try:
                result = DRILLS[name](short=args.short, template=template, **extra)
            except Exception:
                result = DrillResult(name)
                result.count("the drill itself failed:\n" + traceback.format_exc())
                result.target("the drill ran", False, "exception (above)")
            result.print()
            results.append(result)
    print(f"\n== summary ({time.monotonic() - started:.0f} s)\n" + table(results))
    totals = {
        column: sum(int(r.summary[column]) for r in results if r.summary.get(column, "-").isdigit())
        for column in ("lost pay", "doubled", "lost sms")
    }
    print(f"in all: lost payments: {totals['lost pay']}, doubled: {totals['doubled']}; lost SMS: {totals['lost sms']}")
    missed = [result.name for result in results if not result.ok]
    print("all targets met" if not missed else f"targets missed in: {', '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
