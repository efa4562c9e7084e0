"""The fault drills' short versions (`python -m drills.run --short`): private Redis and
PostgreSQL instances of their own, the gateway under granian and RQ workers as the
Procfile runs them. Each drill removes every process and temp dir it made, pass or fail."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

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


DRILLS = {
    "redis stopped and started again": redis_outage,
    "postgres crashed and started again": postgres_restart,
    "rq worker killed while sending": rq_worker_kill,
    "web worker killed": web_worker_kill,
    "smsc stopped under a stream of sms and started again": smsc_outage,
    # Issue 16: the highly available topology (drills/topology.py), the load through HAProxy.
    "redis master killed and the replica promoted by sentinel": redis_failover,
    "postgres primary crashed and the standby promoted": postgres_failover,
    "web instance killed behind haproxy": web_instance_kill,
    "haproxy reloaded and restarted": haproxy_restart,
}


@pytest.mark.parametrize("drill", DRILLS.values(), ids=DRILLS.keys())
def test_the_drill_meets_its_targets(template: PreparedCluster, drill: Any) -> None:
    result = drill.run(short=True, template=template, echo=False)
    assert result.ok, result.report()
