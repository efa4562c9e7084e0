"""Drill: the gateway's PostgreSQL stopped as by a crash (`pg_ctl stop -m immediate`),
then started again (WAL recovery), under load.

While it is down every hop must answer a polite END within 1 s, never a 5xx; within 5 s
of its return, full service (each process's pool drops its dead connections on the first
error). Every payment an agent saw confirmed must be in the database exactly once, none
half-applied; SMS rows committed before the crash are all sent."""

from __future__ import annotations

from drills.infra import PreparedCluster, Stack
from drills.outage import dependency_drill
from drills.report import DrillResult

NAME = "postgres"


def _stop(built: Stack) -> str:
    built.postgres.stop("immediate")
    return f"stopped postgres :{built.postgres.port} (pg_ctl stop -m immediate: a crash)"


def _start(built: Stack) -> str:
    built.postgres.start()
    return f"started postgres :{built.postgres.port} again (pg_ctl start -w: recovered and accepting)"


def run(*, short: bool = False, template: PreparedCluster | None = None, echo: bool = True) -> DrillResult:
    return dependency_drill(NAME, short=short, template=template, stop=_stop, start=_start, echo=echo)
