"""Drill: the load balancer restarted under load. First reloaded the way a configuration
change is deployed (`haproxy -x socket -sf old`: the new process takes the listening
sockets, the old one finishes its requests): not one hop may be lost. Then killed hard
and started again: the hops sent while no HAProxy listens get no answer (the aggregator
retries them; production runs two HAProxy with a floating address), but none a 5xx, and
full service the moment it is back."""

from __future__ import annotations

import time

from drills.failover import Fault, Targets, cluster_drill
from drills.infra import PreparedCluster, wait_until
from drills.report import DrillResult
from drills.topology import Cluster

NAME = "haproxy"
RELOADS_SHORT, RELOADS_FULL = 1, 3


def _reload(built: Cluster, result: DrillResult) -> float:
    assert built.haproxy is not None
    old = built.haproxy.process
    assert old is not None
    started = time.monotonic()
    built.haproxy.reload()
    old.wait(timeout=20)
    result.step(f"reloaded HAProxy (-x -sf): old process {old.pid} finished after {time.monotonic() - started:.2f} s")
    return started


def _restart(built: Cluster, result: DrillResult) -> float:
    assert built.haproxy is not None
    started = time.monotonic()
    built.haproxy.kill()
    built.haproxy.start()
    up = wait_until(lambda: len(built.haproxy.servers_up()) == len(built.instances), 10, 0.02)  # type: ignore[union-attr]
    result.step(
        f"SIGKILLed HAProxy and started it again: listening after {time.monotonic() - started:.2f} s, "
        f"both servers {'UP' if up else 'NOT up'}"
    )
    return started


def run(*, short: bool = False, template: PreparedCluster | None = None, echo: bool = True) -> DrillResult:
    reloads: list[Fault] = [_reload] * (RELOADS_SHORT if short else RELOADS_FULL)
    return cluster_drill(
        NAME,
        short=short,
        template=template,
        faults=[*reloads, _restart],
        targets=Targets(recovery_s=1.0, lossy=(len(reloads),), polite_ends=False),
        echo=echo,
    )
