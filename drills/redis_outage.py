"""Drill: the gateway's Redis stopped, then started again, under load.

While it is down every hop must answer a polite END (the session store is gone) within
1 s, never a 5xx; within 5 s of its return, full service. Redis here keeps nothing on
disk, so every session is lost with it: a session that goes on after the restart is
rebuilt from the aggregator's `text`. Payments confirmed meanwhile must all be in the
database once; SMS queued while RQ's Redis was gone are found by the sweep."""

from __future__ import annotations

from drills.infra import PreparedCluster, Stack
from drills.outage import dependency_drill
from drills.report import DrillResult

NAME = "redis"


def _stop(built: Stack) -> str:
    built.redis.stop()
    return f"stopped redis :{built.redis.port} (SIGTERM; it keeps nothing on disk)"


def _start(built: Stack) -> str:
    built.redis.start()
    return f"started redis :{built.redis.port} again (empty) and it answers PING"


def run(*, short: bool = False, template: PreparedCluster | None = None, echo: bool = True) -> DrillResult:
    return dependency_drill(NAME, short=short, template=template, stop=_stop, start=_start, echo=echo)
