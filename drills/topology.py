"""The highly available topology on one machine (`make cluster`, the failover drills): a
Redis master and replica watched by three Sentinels, a PostgreSQL primary and a streaming
standby made with `pg_basebackup -R`, two web instances (the Procfile's `web:` line)
behind HAProxy (deploy/haproxy.cfg), an RQ worker and the clock.

Built from drills/infra.py's pieces, on free ports in a temp dir of its own; every
process is ours and stopped at the end. The apps find the Redis master through the
Sentinels (REDIS_SENTINELS) and the PostgreSQL primary through libpq's several hosts
(DATABASE_URL with target_session_attrs=read-write): nothing is told of a failover."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis

from drills.infra import (
    ROOT,
    Gateway,
    PreparedCluster,
    PrivatePostgres,
    PrivateRedis,
    Stack,
    _stop_group,
    free_port,
    make_workdir,
    prepare_database,
    procfile_command,
    wait_until,
)
from gateway.sms.fake_africastalking import FakeAfricasTalking

MASTER_NAME = "hirfa"
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
HAPROXY_CONFIG = ROOT / "deploy" / "haproxy.cfg"
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
# Sentinel: the master is down after 1 s without an answer; two of three agree.
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000
QUORUM = 2


def subdir(workdir: Path, name: str) -> Path:
    path = workdir / name
    path.mkdir()
    path.chmod(0o755)
    return path


def spawn(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A process in a session of its own (so we stop its whole group), output to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


class Sentinel:
    """`redis-server sentinel.conf --sentinel` watching our master (it rewrites its own
    config file as it learns the replica, the other Sentinels and failovers)."""

    def __init__(self, workdir: Path, master_port: int) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.master_port = master_port
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        config = self.workdir / "sentinel.conf"
        config.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndaemonize no\ndir {self.workdir}\n"
            f"logfile {self.workdir / 'sentinel.log'}\n"
            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.master_port} {QUORUM}\n"
            f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}\n"
            f"sentinel parallel-syncs {MASTER_NAME} 1\n"
        )
        self.process = subprocess.Popen(
            [REDIS_SERVER, str(config), "--sentinel"], stdout=subprocess.DEVNULL, start_new_session=True
        )

    def state(self) -> dict[str, str]:
        """SENTINEL MASTER hirfa: what this Sentinel knows (num-slaves, num-other-sentinels…)."""
        client = redis.Redis(port=self.port, socket_timeout=0.5, socket_connect_timeout=0.5, decode_responses=True)
        try:
            return dict(client.execute_command("SENTINEL", "MASTER", MASTER_NAME))
        except redis.RedisError:
            return {}
        finally:
            client.close()

    def master_port_now(self) -> int | None:
        port = self.state().get("port")
        return int(port) if port else None

    def close(self) -> None:
        if self.process is not None:
            _stop_group(self.process, timeout=5)
            self.process = None


class HAProxy:
    """deploy/haproxy.cfg as is, its "${…}" filled from the environment. `reload()` is the
    seamless reload (the new process takes the listening sockets over the admin socket,
    `-x`, and the old one finishes its requests, `-sf`); `kill()` + `start()` a hard restart."""

    def __init__(self, workdir: Path, servers: list[str]) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.socket = workdir / "admin.sock"
        self.servers = servers
        self.process: subprocess.Popen[bytes] | None = None
        self.retired: list[subprocess.Popen[bytes]] = []  # old processes finishing after a reload

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HIRFA_LB_BIND": f"127.0.0.1:{self.port}"}
        env["HIRFA_LB_SOCKET"] = str(self.socket)
        env.update({f"HIRFA_WEB{n}": server for n, server in enumerate(self.servers, start=1)})
        return env

    def argv(self, *extra: str) -> list[str]:
        return [HAPROXY, "-f", str(HAPROXY_CONFIG), "-db", *extra]

    def check(self) -> None:
        subprocess.run([HAPROXY, "-c", "-q", "-f", str(HAPROXY_CONFIG)], env=self.env(), check=True)

    def start(self) -> None:
        self.process = spawn(self.argv(), self.env(), self.workdir / "haproxy.log")
        if not wait_until(lambda: self.socket.exists() and self.listening(), 10):
            raise RuntimeError(f"haproxy did not start; see {self.workdir / 'haproxy.log'}")

    def reload(self) -> None:
        old = self.process
        assert old is not None
        self.process = spawn(
            self.argv("-x", str(self.socket), "-sf", str(old.pid)), self.env(), self.workdir / "haproxy.log"
        )
        self.retired.append(old)

    def kill(self) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def listening(self) -> bool:
        with contextlib.suppress(OSError), urllib.request.urlopen(self.base_url + "/healthz", timeout=1) as response:
            return bool(response.status == 200)
        return False

    def command(self, line: str) -> str:
        """One command on the admin socket (`show servers state`, `show stat`)."""
        import socket  # noqa: PLC0415 - only here

        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(2)
            sock.connect(str(self.socket))
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def servers_up(self, backend: str = "web") -> list[str]:
        """The servers of `backend` HAProxy has UP now."""
        up = []
        with contextlib.suppress(OSError):
            for line in self.command("show stat").splitlines():
                parts = line.split(",")
                server = len(parts) > 17 and parts[0] == backend and parts[1] not in ("FRONTEND", "BACKEND")
                if server and parts[17].startswith("UP"):
                    up.append(parts[1])
        return up

    def retries(self, backend: str = "web") -> tuple[int, int]:
        """(retries, redispatches) of `backend` since this process started."""
        with contextlib.suppress(OSError):
            for line in self.command("show stat").splitlines():
                parts = line.split(",")
                if len(parts) > 16 and parts[0] == backend and parts[1] == "BACKEND":
                    return int(parts[15] or 0), int(parts[16] or 0)
        return 0, 0

    def close(self) -> None:
        for process in [*self.retired, self.process]:
            if process is not None:
                _stop_group(process, timeout=5)
        self.process = None
        self.retired = []


@dataclass
class Cluster(Stack):
    """Stack's `redis` is the master and `postgres` the primary at start; a drill that
    fails one over points them at the one that took over (for its counting)."""

    replica: PrivateRedis | None = None
    sentinels: list[Sentinel] = field(default_factory=list)
    standby: PrivatePostgres | None = None
    instances: list[Gateway] = field(default_factory=list)
    haproxy: HAProxy | None = None
    clock: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        assert self.haproxy is not None
        return self.haproxy.base_url

    def high_availability_env(self) -> dict[str, str]:
        """How every process finds the master and the primary, whichever they are now."""
        assert self.standby is not None
        hosts = f"127.0.0.1:{self.postgres.port},127.0.0.1:{self.standby.port}"
        return {
            "REDIS_SENTINELS": ",".join(f"127.0.0.1:{sentinel.port}" for sentinel in self.sentinels),
            "REDIS_SENTINEL_MASTER": MASTER_NAME,
            "REDIS_URL": self.redis.url,  # ignored while REDIS_SENTINELS is set
            "DATABASE_URL": f"postgresql://postgres@{hosts}/hirfa?target_session_attrs=read-write",
            "DATABASE_READ_URL": f"postgresql://postgres@127.0.0.1:{self.standby.port}/hirfa",
        }

    def start_clock(self) -> None:
        self.clock = spawn(procfile_command("clock", {}), self.env(), self.workdir / "clock.log")

    def close_clock(self) -> None:
        if self.clock is not None:
            _stop_group(self.clock, timeout=5)
            self.clock = None


def wait_replicating(master: PrivateRedis, replica: PrivateRedis, sentinels: list[Sentinel]) -> None:
    client = redis.Redis(port=replica.port, decode_responses=True)
    try:
        if not wait_until(lambda: client.info("replication").get("master_link_status") == "up", 20, 0.1):
            raise RuntimeError(f"redis replica :{replica.port} did not sync with :{master.port}")
    finally:
        client.close()

    def known() -> bool:
        states = [sentinel.state() for sentinel in sentinels]
        return all(
            int(state.get("num-slaves", 0)) >= 1 and int(state.get("num-other-sentinels", 0)) >= len(sentinels) - 1
            for state in states
        )

    if not wait_until(known, 30, 0.2):
        raise RuntimeError("the Sentinels did not find the replica and each other within 30 s")


def make_synchronous(primary: PrivatePostgres, standby: PrivatePostgres) -> None:
    """Wait for the standby to stream, then make commits wait for it (synchronous_commit
    on, any standby): a payment the agent saw confirmed is on both, so promoting the
    standby loses none. Set after pg_basebackup, so the standby itself has it unset."""
    admin = f"postgresql://postgres@127.0.0.1:{primary.port}/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:

        def streaming() -> bool:
            row = connection.execute("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'").fetchone()
            return bool(row and row[0] >= 1)

        if not wait_until(streaming, 30, 0.1):
            raise RuntimeError(f"postgres standby :{standby.port} is not streaming from :{primary.port}")
        connection.execute("ALTER SYSTEM SET synchronous_standby_names = '*'")
        connection.execute("SELECT pg_reload_conf()")


@contextlib.contextmanager
def cluster(
    name: str,
    *,
    template: PreparedCluster | None = None,
    web_workers: int = 2,
    rq_workers: int = 1,
    clock: bool = True,
) -> Iterator[Cluster]:
    """Start the topology, yield it, and stop and remove all of it whatever happens."""
    workdir = make_workdir(name)
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, workdir, True)
        fake = FakeAfricasTalking().start()
        cleanup.callback(fake.stop)
        master = PrivateRedis(subdir(workdir, "redis-master"))
        cleanup.callback(master.close)
        master.start()
        replica = PrivateRedis(subdir(workdir, "redis-replica"), extra=("--replicaof", "127.0.0.1", str(master.port)))
        cleanup.callback(replica.close)
        replica.start()
        sentinels = [Sentinel(subdir(workdir, f"sentinel-{n}"), master.port) for n in (1, 2, 3)]
        for sentinel in sentinels:
            cleanup.callback(sentinel.close)
            sentinel.start()
        primary = PrivatePostgres(subdir(workdir, "pg-primary"))
        cleanup.callback(primary.close)
        primary.init(template.data if template is not None else None)
        primary.start()
        if template is None:
            primary.create_database()
            prepare_database(primary.url)
        standby = PrivatePostgres(subdir(workdir, "pg-standby"))
        cleanup.callback(standby.close)
        standby.clone(primary)
        standby.start()
        make_synchronous(primary, standby)
        wait_replicating(master, replica, sentinels)

        instances = [Gateway(subdir(workdir, f"web{n}"), {}, workers=web_workers) for n in (1, 2)]
        built = Cluster(
            name, workdir, master, primary, fake, instances[0], replica=replica, sentinels=sentinels, standby=standby
        )
        built.instances = instances
        built.env_overrides = built.high_availability_env()
        for instance in instances:
            instance.env = built.env()
            cleanup.callback(instance.close)
            instance.start()
        cleanup.callback(built.close_workers)
        for _ in range(rq_workers):
            built.start_worker()
        cleanup.callback(built.close_clock)
        if clock:
            built.start_clock()
        for instance in instances:
            instance.wait_ready()
        built.haproxy = HAProxy(subdir(workdir, "haproxy"), [f"127.0.0.1:{instance.port}" for instance in instances])
        cleanup.callback(built.haproxy.close)
        built.haproxy.check()
        built.haproxy.start()
        if not wait_until(lambda: len(built.haproxy.servers_up()) == len(instances), 10, 0.1):  # type: ignore[union-attr]
            raise RuntimeError("haproxy did not see both web instances ready within 10 s")
        yield built
