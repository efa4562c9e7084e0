"""Drill: the Redis master SIGKILLed under load; the Sentinels promote the replica.

Nobody tells the apps: every Redis user (the web instances' session store, rate limits
and nonces, the RQ worker, the clock's lease) asks the Sentinels for the master again on
its next connection. While no master answers (Sentinel waits DOWN_AFTER_MS, then
elects), hops answer a polite END; full service within 15 s of the kill. What the
asynchronous replica had not received (the last session writes, jobs just queued) is
recovered by resume and the outbox sweep: no payment or SMS lost."""

from __future__ import annotations

import signal
import time

from drills.failover import Targets, cluster_drill
from drills.infra import PreparedCluster, wait_until
from drills.report import DrillResult
from drills.topology import Cluster

NAME = "redis-failover"
MAX_RECOVERY_S = 15.0


def _kill_master(built: Cluster, result: DrillResult) -> float:
    assert built.replica is not None
    master, replica = built.redis, built.replica
    master.stop(signal.SIGKILL)
    killed_at = time.monotonic()
    result.step(f"SIGKILL the Redis master :{master.port}")
    promoted = wait_until(lambda: all(s.master_port_now() == replica.port for s in built.sentinels), 30, 0.05)
    result.step(
        f"the Sentinels name the replica :{replica.port} master {time.monotonic() - killed_at:.2f} s after the kill"
        if promoted
        else "the Sentinels did NOT promote the replica within 30 s"
    )
    built.redis, built.replica = replica, master  # the old master stays down (no data: never back as master)
    return killed_at


def run(*, short: bool = False, template: PreparedCluster | None = None, echo: bool = True) -> DrillResult:
    return cluster_drill(
        NAME,
        short=short,
        template=template,
        faults=[_kill_master],
        targets=Targets(recovery_s=MAX_RECOVERY_S),
        echo=echo,
    )
