"""A private Redis master, its replica and three Sentinels (Debian's redis-server and
redis-sentinel) on free ports of 127.0.0.1, in a temp folder: the high-availability tests
fail over this group, never the shared Redis."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.smsc.fixture import free_port

MASTER_NAME = "hirfa"
# Fast enough for tests: a master silent for 1 s is down for each Sentinel, 2 agree.
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll `check` until it holds (a Redis error counts as not yet) or `timeout` seconds went by."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except redis.RedisError:
            pass
        time.sleep(interval)
    return False


def binary(name: str) -> str:
    found = shutil.which(name) or f"/usr/bin/{name}"
    if not Path(found).exists():
        raise RuntimeError(f"{name} is required: apt-get install redis-sentinel (`make test` does)")
    return found


@dataclass
class SentinelGroup:
    workdir: Path
    redis_ports: list[int] = field(default_factory=list)
    sentinel_ports: list[int] = field(default_factory=list)
    processes: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def sentinels(self) -> str:
        """REDIS_SENTINELS for these Sentinels."""
        return ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)

    def client(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_connect_timeout=0.25, socket_timeout=1)

    def _start(self, port: int, argv: list[str]) -> None:
        log = self.workdir / f"{port}.log"
        self.processes[port] = subprocess.Popen(
            [*argv, "--logfile", str(log)], stdout=subprocess.DEVNULL, start_new_session=True
        )
        if not wait_until(lambda: bool(self.client(port).ping()), 10):
            raise RuntimeError(f"redis on {port} did not start: see {log}")

    def start_redis(self, port: int, replica_of: int | None = None) -> None:
        argv = [binary("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        argv += ["--appendonly", "no", "--dir", str(self.workdir), "--dbfilename", f"{port}.rdb"]
        if replica_of is not None:
            argv += ["--replicaof", "127.0.0.1", str(replica_of)]
        self._start(port, argv)

    def start_sentinel(self, port: int) -> None:
        config = self.workdir / f"sentinel-{port}.conf"  # Sentinel rewrites its file
        config.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {self.workdir}\n"
            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.redis_ports[0]} 2\n"
            f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}\n"
            f"sentinel parallel-syncs {MASTER_NAME} 1\n"
        )
        self._start(port, [binary("redis-sentinel"), str(config)])

    def master_port(self) -> int:
        """The master's port as the Sentinels name it now."""
        _, port = self.client(self.sentinel_ports[0]).sentinel_get_master_addr_by_name(MASTER_NAME)
        return int(port)

    def kill(self, port: int) -> None:
        process = self.processes.pop(port)
        process.kill()
        process.wait()

    def stop(self) -> None:
        for port in list(self.processes):
            self.kill(port)

    def wait_for_new_master(self, old: int, timeout: float = 20) -> int:
        """Wait until the Sentinels name another master, it answers as one, and the old one
        (when still running) follows it as a replica; returns the new master's port."""

        def promoted() -> bool:
            port = self.master_port()
            if port == old or self.client(port).execute_command("ROLE")[0] != b"master":
                return False
            return old not in self.processes or self.client(old).execute_command("ROLE")[0] == b"slave"

        if not wait_until(promoted, timeout, interval=0.1):
            raise RuntimeError(f"no new master within {timeout}s")
        return self.master_port()


@contextmanager
def sentinel_group(workdir: Path) -> Iterator[SentinelGroup]:
    """A master, one replica in sync, three Sentinels that see both; everything killed at the end."""
    group = SentinelGroup(workdir, [free_port(), free_port()], [free_port(), free_port(), free_port()])
    try:
        group.start_redis(group.redis_ports[0])
        group.start_redis(group.redis_ports[1], replica_of=group.redis_ports[0])
        replica = group.client(group.redis_ports[1])
        if not wait_until(lambda: replica.info("replication")["master_link_status"] == "up", 10):
            raise RuntimeError("the replica did not sync")
        for port in group.sentinel_ports:
            group.start_sentinel(port)
        sentinel = group.client(group.sentinel_ports[0])

        def everyone_known() -> bool:
            state = sentinel.sentinel_master(MASTER_NAME)
            return int(state["num-other-sentinels"]) == 2 and int(state["num-slaves"]) == 1

        if not wait_until(everyone_known, 15, interval=0.1):
            raise RuntimeError("the Sentinels did not find each other and the replica")
        yield group
    finally:
        group.stop()
