"""Drill: the PostgreSQL primary crashed under load (`pg_ctl stop -m immediate`); after
PROMOTE_AFTER_S (the time a failover manager takes to decide: Patroni, pg_auto_failover,
or a person) the streaming standby is promoted (`pg_ctl promote`).

Nobody tells the apps: DATABASE_URL names both hosts with target_session_attrs=read-write,
so libpq connects to whichever accepts writes; each pool drops the connections the crash
broke. While no primary exists hops answer a polite END; full service within 15 s of the
crash. The standby is synchronous: every payment an agent saw confirmed is on it."""

from __future__ import annotations

import time

from drills.failover import Targets, cluster_drill
from drills.infra import PreparedCluster
from drills.report import DrillResult
from drills.topology import Cluster

NAME = "postgres-failover"
PROMOTE_AFTER_S = 2.0
MAX_RECOVERY_S = 15.0


def _crash_and_promote(built: Cluster, result: DrillResult) -> float:
    assert built.standby is not None
    primary, standby = built.postgres, built.standby
    primary.stop("immediate")
    crashed_at = time.monotonic()
    result.step(f"crashed the PostgreSQL primary :{primary.port} (pg_ctl stop -m immediate)")
    time.sleep(PROMOTE_AFTER_S)
    standby.promote()
    after = time.monotonic() - crashed_at
    result.step(f"promoted the standby :{standby.port} (pg_ctl promote -w), {after:.2f} s after the crash")
    built.postgres, built.standby = standby, primary  # the old primary stays down (it would need pg_rewind)
    return crashed_at


def run(*, short: bool = False, template: PreparedCluster | None = None, echo: bool = True) -> DrillResult:
    return cluster_drill(
        NAME,
        short=short,
        template=template,
        faults=[_crash_and_promote],
        targets=Targets(recovery_s=MAX_RECOVERY_S),
        echo=echo,
    )
