"""Drill (beyond the issue's four): the gateway's Redis frozen (SIGSTOP), then let go
(SIGCONT), under load.

Unlike a stopped Redis, a frozen one (stalled, or cut off by the network) still accepts
connections but never answers, so each Redis call waits out the client's socket timeout.
The targets are those of the Redis drill: a polite END within 1 s, no 5xx, full service
within 5 s after it answers again."""

from __future__ import annotations

from drills.infra import PreparedCluster, Stack
from drills.outage import dependency_drill
from drills.report import DrillResult

NAME = "redis-freeze"


def _stop(built: Stack) -> str:
    built.redis.freeze()
    return f"froze redis :{built.redis.port} (SIGSTOP: connects, never answers)"


def _start(built: Stack) -> str:
    built.redis.thaw()
    return f"let redis :{built.redis.port} go (SIGCONT: its data intact)"


def run(*, short: bool = False, template: PreparedCluster | None = None, echo: bool = True) -> DrillResult:
    return dependency_drill(NAME, short=short, template=template, stop=_stop, start=_start, echo=echo)
