"""The fault drills' short versions (`python -m drills.run --short`): private Redis and
PostgreSQL instances of their own, the gateway under granian and RQ workers as the
Procfile runs them. Each drill removes every process and temp dir it made, pass or fail."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drills import (
    haproxy_restart,
    postgres_failover,
    postgres_restart,
    redis_failover,
    redis_outage,
    rq_worker_kill,
    smsc_outage,
    web_instance_kill,
    web_worker_kill,
)
from drills.infra import PreparedCluster, postgres_bin

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def template() -> Iterator[PreparedCluster]:
    postgres_bin()  # fails clearly when the PostgreSQL server binaries are missing
    with PreparedCluster() as prepared:
        yield prepared
    assert not prepared.workdir.exists()  # removed, as each drill's own temp dir is


def test_redis_stopped_and_started_again(template: PreparedCluster) -> None:
    result = redis_outage.run(short=True, template=template, echo=False)
    assert result.ok, result.report()


def test_postgres_crashed_and_started_again(template: PreparedCluster) -> None:
    result = postgres_restart.run(short=True, template=template, echo=False)
    assert result.ok, result.report()


def test_rq_worker_killed_while_sending(template: PreparedCluster) -> None:
    result = rq_worker_kill.run(short=True, template=template, echo=False)
    assert result.ok, result.report()


def test_web_worker_killed(template: PreparedCluster) -> None:
    result = web_worker_kill.run(short=True, template=template, echo=False)
    assert result.ok, result.report()


def test_smsc_stopped_under_a_stream_of_sms_and_started_again(template: PreparedCluster) -> None:
    result = smsc_outage.run(short=True, template=template, echo=False)
    assert result.ok, result.report()


# Issue 16: the highly available topology (drills/topology.py), the load through HAProxy.


def test_redis_master_killed_and_the_replica_promoted_by_sentinel(template: PreparedCluster) -> None:
    result = redis_failover.run(short=True, template=template, echo=False)
    assert result.ok, result.report()


def test_postgres_primary_crashed_and_the_standby_promoted(template: PreparedCluster) -> None:
    result = postgres_failover.run(short=True, template=template, echo=False)
    assert result.ok, result.report()


def test_web_instance_killed_behind_haproxy(template: PreparedCluster) -> None:
    result = web_instance_kill.run(short=True, template=template, echo=False)
    assert result.ok, result.report()


def test_haproxy_reloaded_and_restarted(template: PreparedCluster) -> None:
    result = haproxy_restart.run(short=True, template=template, echo=False)
    assert result.ok, result.report()
