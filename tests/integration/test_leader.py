"""One copy at a time (gateway/leader.py) on real Redis: two contenders, one works; when it
stops, dies or loses the lease, the other takes over, and their works never overlap."""

from __future__ import annotations

import itertools
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from gateway.config import Settings
from gateway.leader import Leadership, Lease, lease_key
from tests.conftest import REDIS_URL
from tests.sentinels import wait_until
from tests.smsc.fixture import PASSWORD, SYSTEM_ID, Smsc, free_port, smsc

__all__ = ["smsc"]

ROOT = Path(__file__).resolve().parents[2]
LEASE = 1.0
RENEW = 0.2


class Recorded:
    """A work that notes when it ran, in a list shared by every contender."""

    def __init__(self, name: str, runs: list[tuple[str, float, float]]) -> None:
        self.name = name
        self.runs = runs
        self.stopping = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        self.stopping.wait()
        self.runs.append((self.name, started, time.monotonic()))

    def stop(self) -> None:
        self.stopping.set()


def never_overlapping(runs: list[tuple[str, float, float]]) -> bool:
    ordered = sorted(runs, key=lambda run: run[1])
    return all(earlier[2] <= later[1] for earlier, later in itertools.pairwise(ordered))


@pytest.fixture
def key(redis_prefix: str) -> Iterator[str]:
    found = lease_key(redis_prefix, f"test-{secrets.token_hex(3)}")
    yield found
    redis.Redis.from_url(REDIS_URL).delete(found)


def contender(client: redis.Redis, key: str, name: str, runs: list[tuple[str, float, float]]) -> Leadership:
    leadership = Leadership(Lease(client, key, seconds=LEASE), lambda: Recorded(name, runs), renew_seconds=RENEW)
    threading.Thread(target=leadership.run, daemon=True).start()
    return leadership


def test_one_of_two_works_and_the_other_takes_over_when_it_stops(key: str) -> None:
    runs: list[tuple[str, float, float]] = []
    client = redis.Redis.from_url(REDIS_URL)
    first = contender(client, key, "first", runs)
    assert wait_until(first.working.is_set, 5)
    second = contender(client, key, "second", runs)
    time.sleep(3 * LEASE)  # longer than a lease: the first renews it, the second waits
    assert first.working.is_set() and not second.working.is_set()

    stopped = time.monotonic()
    first.stop()  # a clean stop frees the lease at once
    assert wait_until(second.working.is_set, 5)
    assert time.monotonic() - stopped < LEASE  # not waiting for the lease to end
    second.stop()
    assert wait_until(lambda: len(runs) == 2, 5)
    assert [name for name, *_ in runs] == ["first", "second"]
    assert never_overlapping(runs)


def test_a_lease_taken_by_someone_else_stops_the_work_at_once(key: str) -> None:
    runs: list[tuple[str, float, float]] = []
    client = redis.Redis.from_url(REDIS_URL)
    leader = contender(client, key, "leader", runs)
    assert wait_until(leader.working.is_set, 5)
    client.set(key, "another-copy", px=int(10 * LEASE * 1000))
    taken = time.monotonic()
    assert wait_until(lambda: runs != [], 2)
    assert runs[0][2] - taken <= 2 * RENEW  # stopped at its next renewal
    assert not leader.working.is_set()  # and waits again
    time.sleep(2 * LEASE)
    assert len(runs) == 1  # the other copy's lease is respected
    leader.stop()


def test_a_leader_that_cannot_reach_redis_stops_before_its_lease_could_end(tmp_path: Path) -> None:
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(port=port, socket_connect_timeout=0.1, socket_timeout=0.2)
        assert wait_until(lambda: bool(client.ping()), 5)
        runs: list[tuple[str, float, float]] = []
        leader = contender(client, "lease", "leader", runs)
        assert wait_until(leader.working.is_set, 5)
        time.sleep(0.5)
        server.kill()
        server.wait()
        gone = time.monotonic()
        assert wait_until(lambda: runs != [], 3 * LEASE)
        # The last renewal was at most RENEW before the kill: the lease lasts at least
        # LEASE - RENEW after it. The work stopped earlier than that.
        assert runs[0][2] - gone < LEASE - RENEW + 0.35
        leader.stop()
    finally:
        server.kill()
        server.wait()


def start_flask(settings: Settings, key_prefix: str, *args: str, **extra: str) -> subprocess.Popen[str]:
    """`flask --app wsgi ARGS` as the Procfile runs it, on the test database and Redis."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("SMS_", "HIRFA_", "REDIS_"))}
    env |= {
        "HIRFA_ENV": "development",
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "REDIS_PREFIX": key_prefix,
        "SMS_BACKEND": "console",
        "SMS_QUEUE": settings.sms_queue,
        "SMS_SWEEP_INTERVAL_SECONDS": "1",
        "LOG_LEVEL": "INFO",
        **extra,
    }
    command = [sys.executable, "-m", "flask", "--app", "wsgi", *args]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )


def end(*processes: subprocess.Popen[str] | None) -> None:
    for process in processes:
        if process is None:
            continue
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(10)
        assert process.stdout is not None
        process.stdout.close()


class Output:
    """A process's output lines, read as they come."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self.process = process
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def says(self, words: str) -> bool:
        return any(words in line for line in self.lines)


def test_a_second_clock_waits_and_takes_over_when_the_first_is_killed(settings: Settings) -> None:
    """`flask sms clock` twice (the Procfile's clock: line on two machines): SIGKILL the
    one that works (no release), the other starts within a lease and a renewal."""
    key_prefix = f"{settings.redis_prefix}{secrets.token_hex(3)}:"
    first = start_flask(settings, key_prefix, "sms", "clock")
    second: subprocess.Popen[str] | None = None
    try:
        first_out = Output(first)
        assert wait_until(lambda: first_out.says("sms clock: sweeping"), 30), "".join(first_out.lines)
        second = start_flask(settings, key_prefix, "sms", "clock")
        second_out = Output(second)
        assert wait_until(lambda: second_out.says("standby"), 30), "".join(second_out.lines)
        assert not second_out.says("sms clock: sweeping")

        os.killpg(first.pid, signal.SIGKILL)
        killed = time.monotonic()
        assert wait_until(lambda: second_out.says("sms clock: sweeping"), 15), "".join(second_out.lines)
        took = time.monotonic() - killed
        print(f"clock: the standby took over {took:.1f}s after the leader was killed")
        assert took < 6.0 + 1.0 + 1.0  # LEASE_SECONDS + RENEW_SECONDS + start-up
    finally:
        end(first, second)
        redis.Redis.from_url(REDIS_URL).delete(lease_key(key_prefix, "clock"))


def test_one_smpp_bind_at_a_time_and_the_standby_binds_when_the_first_dies(settings: Settings, smsc: Smsc) -> None:
    """`flask smpp run` twice: one bind to the SMSC; SIGKILL it, the standby binds."""
    key_prefix = f"{settings.redis_prefix}{secrets.token_hex(3)}:"
    smpp = {
        "SMS_BACKEND": "smpp",
        "SMPP_HOST": "127.0.0.1",
        "SMPP_PORT": str(smsc.port),
        "SMPP_SYSTEM_ID": SYSTEM_ID,
        "SMPP_PASSWORD": PASSWORD,
        "SMPP_SOURCE_ADDR": "Hirfa",
        "SMPP_METRICS_PORT": "0",
    }

    def binds() -> int:
        return sum(1 for pdu in smsc.pdus("bind") if pdu.get("accepted"))

    before = binds()
    first = start_flask(settings, key_prefix, "smpp", "run", **smpp)
    second: subprocess.Popen[str] | None = None
    try:
        first_out = Output(first)
        assert wait_until(lambda: binds() == before + 1, 30), "".join(first_out.lines)
        second = start_flask(settings, key_prefix, "smpp", "run", **smpp)
        second_out = Output(second)
        assert wait_until(lambda: second_out.says("standby"), 30), "".join(second_out.lines)
        time.sleep(2)
        assert binds() == before + 1  # the standby did not bind

        os.killpg(first.pid, signal.SIGKILL)
        killed = time.monotonic()
        assert wait_until(lambda: binds() == before + 2, 15), "".join(second_out.lines)
        print(f"smpp: the standby bound {time.monotonic() - killed:.1f}s after the first was killed")
    finally:
        end(first, second)
        redis.Redis.from_url(REDIS_URL).delete(lease_key(key_prefix, "smpp"))
