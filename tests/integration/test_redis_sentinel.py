"""Redis through Sentinel (REDIS_SENTINELS): a private master, replica and three Sentinels
(tests/sentinels.py); the app's client follows a failover without a restart."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.sentinel import SentinelConnectionPool
from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer

from gateway import create_app
from gateway.config import Settings, SettingsError
from gateway.db import dispose_engines
from gateway.redis_client import make_redis
from gateway.sms_app import dispatcher_of
from gateway.ussd.store import RedisSessionStore
from gateway.wiring import EXTENSION as HIRFA
from tests.sentinels import MASTER_NAME, SentinelGroup, sentinel_group, wait_until

ROOT = Path(__file__).resolve().parents[2]
PHONE = "+212600000001"


@pytest.fixture
def group(tmp_path: Path) -> Iterator[SentinelGroup]:
    with sentinel_group(tmp_path) as found:
        yield found


def sentinel_settings(settings: Settings, group: SentinelGroup) -> Settings:
    sentinels = tuple(("127.0.0.1", port) for port in group.sentinel_ports)
    return dataclasses.replace(settings, redis_url="", redis_sentinels=sentinels, redis_sentinel_master=MASTER_NAME)


def store_of(client: redis.Redis) -> RedisSessionStore:
    return RedisSessionStore(client, prefix="ha:", ttl_seconds=300)


def save(store: RedisSessionStore, session_id: str, screen: str) -> None:
    store.save("africastalking", session_id, {"screen": screen}, phone=PHONE, resume=None, had_resume=False)


def until_it_works(store: RedisSessionStore, session_id: str, timeout: float = 15) -> float:
    """Save then load through `store` until both succeed; returns the seconds it took."""
    started = time.monotonic()
    while True:
        try:
            save(store, session_id, "after")
            if store.load("africastalking", session_id, PHONE).record == {"screen": "after"}:
                return time.monotonic() - started
        except redis.RedisError:
            if time.monotonic() - started > timeout:
                raise
        time.sleep(0.05)


def test_the_settings_read_sentinels_and_need_no_redis_url() -> None:
    found = Settings.from_env({"HIRFA_ENV": "development", "REDIS_SENTINELS": "10.0.0.1:26379, sentinel-b:26380"})
    assert found.redis_sentinels == (("10.0.0.1", 26379), ("sentinel-b", 26380))
    assert found.redis_sentinel_master == "hirfa"
    assert not found.uses_embedded_redis  # REDIS_URL's development default is not used
    with pytest.raises(SettingsError, match="REDIS_SENTINELS: 'sentinel-c' is not like host:26379"):
        Settings.from_env({"HIRFA_ENV": "development", "REDIS_SENTINELS": "sentinel-c"})


def test_the_session_store_follows_a_sentinel_failover(settings: Settings, group: SentinelGroup) -> None:
    client = make_redis(sentinel_settings(settings, group))
    store = store_of(client)
    save(store, "s1", "before")
    old = group.master_port()
    assert client.connection_pool.get_master_address() == ("127.0.0.1", old)

    group.client(group.sentinel_ports[0]).execute_command("SENTINEL", "FAILOVER", MASTER_NAME)
    new = group.wait_for_new_master(old)

    took = until_it_works(store, "s2")
    assert took < 5
    assert client.connection_pool.get_master_address() == ("127.0.0.1", new)
    # The new master holds what was written before (the replica was in sync) and after.
    assert store.load("africastalking", "s1", PHONE).record == {"screen": "before"}
    assert group.client(new).get(store.key("africastalking", "s2")) is not None
    client.close()


def test_a_killed_master_is_replaced_and_the_next_operations_reach_the_new_one(
    settings: Settings, group: SentinelGroup
) -> None:
    client = make_redis(sentinel_settings(settings, group))
    store = store_of(client)
    save(store, "s1", "before")
    old = group.master_port()
    group.client(old).execute_command("WAIT", 1, 1000)  # the replica has it
    killed_at = time.monotonic()
    group.kill(old)

    took = until_it_works(store, "s2", timeout=20)
    new = group.master_port()
    assert new != old
    assert store.load("africastalking", "s1", PHONE).record == {"screen": "before"}
    print(f"killed master: the session store worked again after {took:.1f}s")
    assert time.monotonic() - killed_at < 15
    client.close()


def test_the_rq_worker_reads_its_connection_from_the_settings(settings: Settings, group: SentinelGroup) -> None:
    """The Procfile's worker line: `rq worker -c gateway.rq_settings` finds the master by Sentinel."""
    client = make_redis(sentinel_settings(settings, group))
    queue = Queue("ha-test", connection=client, serializer=JSONSerializer)
    job = queue.enqueue("os.path.basename", "/a/b.txt")
    env = {**os.environ, "HIRFA_ENV": "development", "REDIS_SENTINELS": group.sentinels}
    env.pop("REDIS_URL", None)
    command = [str(Path(sys.executable).parent / "rq"), "worker", "-c", "gateway.rq_settings", "--serializer", "json"]
    command += ["--worker-class", "rq.SimpleWorker", "--burst", "--quiet", "ha-test"]
    subprocess.run(command, cwd=ROOT, env=env, check=True, timeout=60)
    done = Job.fetch(job.id, connection=client, serializer=JSONSerializer)
    assert done.return_value() == "b.txt"
    client.close()


def test_every_redis_user_of_the_app_goes_through_the_sentinels(settings: Settings, group: SentinelGroup) -> None:
    app = create_app(sentinel_settings(settings, group))
    try:
        parts = app.extensions[HIRFA]
        assert isinstance(parts.redis.connection_pool, SentinelConnectionPool)
        assert parts.session_store.client is parts.redis
        assert parts.limiter.client is parts.redis
        assert dispatcher_of(app).redis is parts.redis
        assert dispatcher_of(app).queue.connection is parts.redis
        client = app.test_client()
        assert client.get("/readyz").status_code == 200
        old = group.master_port()
        group.kill(old)
        killed = time.monotonic()
        assert wait_until(lambda: client.get("/readyz").status_code == 200, 20)
        print(f"app: /readyz answered 200 again {time.monotonic() - killed:.1f}s after the master was killed")
        assert group.master_port() != old
    finally:
        dispose_engines(app)
        app.extensions[HIRFA].redis.close()
