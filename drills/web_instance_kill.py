"""Drill: a whole web instance behind HAProxy SIGKILLed (granian's main process and its
workers: a server lost), under load; restarted a few seconds later, as a supervisor would.

HAProxy retries a hop that got no answer on the other instance (retry-on, redispatch)
and its checks take the dead one out: the callers must see nothing, not one polite END,
unanswered hop or 5xx; the restarted instance is taken back once /readyz answers."""

from __future__ import annotations

import os
import signal
import time
from functools import partial

from drills.failover import Fault, Targets, cluster_drill
from drills.infra import PreparedCluster, wait_until
from drills.report import DrillResult
from drills.topology import Cluster

NAME = "web-instance"


def _kill(index: int, built: Cluster, result: DrillResult) -> float:
    assert built.haproxy is not None
    instance = built.instances[index]
    assert instance.process is not None
    os.killpg(instance.process.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    instance.process.wait(timeout=10)
    result.step(f"SIGKILL web{index + 1} :{instance.port} (granian and its workers)")
    out = wait_until(lambda: f"web{index + 1}" not in built.haproxy.servers_up(), 10, 0.05)  # type: ignore[union-attr]
    result.step(f"HAProxy marked web{index + 1} down {time.monotonic() - killed_at:.2f} s after" if out else "NOT down")
    time.sleep(2.0)
    instance.start()
    instance.wait_ready()
    back = wait_until(lambda: f"web{index + 1}" in built.haproxy.servers_up(), 15, 0.05)  # type: ignore[union-attr]
    result.step(f"web{index + 1} restarted; HAProxy {'took it back' if back else 'did NOT take it back'}")
    return killed_at


def run(*, short: bool = False, template: PreparedCluster | None = None, echo: bool = True) -> DrillResult:
    faults: list[Fault] = [partial(_kill, 0)] if short else [partial(_kill, 0), partial(_kill, 1), partial(_kill, 0)]
    return cluster_drill(
        NAME,
        short=short,
        template=template,
        faults=faults,
        targets=Targets(recovery_s=0.0, polite_ends=False),
        echo=echo,
    )
