"""Private infrastructure for the drills: Redis, a PostgreSQL cluster, the gateway under
granian, RQ workers, the fake Africa's Talking, and `flask sms sweep`.

Everything here listens on a free port of its own and lives in a temp dir of its own;
a drill stops, kills and restarts only what it started. The machine's shared PostgreSQL
(5432) and Redis (6379) are never touched."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis
from alembic import command
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from gateway.cli import alembic_config
from gateway.demo import copy_contributors, load_demo
from gateway.sms.fake_africastalking import API_KEY, FakeAfricasTalking

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
CALLBACK_KEY = "drill-callback-key-0123456789abcdef"
SMS_QUEUE = "sms"
# Artisans with three months due, one per payment a drill makes: +2126100xxxxx.
POOL_SIZE = 3000
POOL_PHONE_BASE = 610_000_000
AGENT_PHONE = "+212700000001"  # the demo's Wafacash agent, PIN 1234
AGENT_PIN = "1234"
PROCFILE = ROOT / "Procfile"
VARIABLE = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def procfile_command(process: str, values: dict[str, str]) -> list[str]:
    """The Procfile's line for `process` (web, worker), its variables filled in from
    `values`: the drills run exactly what production runs."""
    for line in PROCFILE.read_text().splitlines():
        name, _, command_line = line.partition(":")
        if name.strip() == process:

            def fill(match: re.Match[str]) -> str:
                variable = match.group(1) or match.group(3)
                return values.get(variable, match.group(2) or "")

            argv = shlex.split(VARIABLE.sub(fill, command_line))
            executable = BIN / argv[0]
            return [str(executable) if executable.exists() else argv[0], *argv[1:]]
    raise RuntimeError(f"no {process}: line in {PROCFILE}")


def postgres_bin() -> Path:
    """The newest PostgreSQL server binaries on the machine (Debian's layout)."""
    versions = sorted(
        (path for path in Path("/usr/lib/postgresql").glob("*/bin") if (path / "initdb").exists()),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
    )
    if not versions:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)")
    return versions[-1]


def as_postgres(argv: list[str]) -> list[str]:
    """initdb and the server refuse to run as root: run them as `postgres` then."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def _chown_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, user="postgres", group="postgres")


def make_workdir(name: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=f"hirfa-drill-{name}-"))
    path.chmod(0o755)  # the postgres user reaches its data and socket dirs inside
    return path


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll `check` until it holds (True) or `timeout` seconds went by (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return False


def _stop_group(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM the process group we started (start_new_session), then SIGKILL it."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # stragglers of the group (workers of a dead main)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


class PrivateRedis:
    """`redis-server` on a free port, no persistence: a restart loses every session."""

    def __init__(self, workdir: Path, *, extra: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.extra = extra  # more options (`--replicaof host port`)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        argv += ["--daemonize", "no", "--dir", str(self.workdir), "--logfile", str(self.workdir / "redis.log")]
        argv += list(self.extra)
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, start_new_session=True)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        try:
            if not wait_until(lambda: self._pings(client), 10):
                raise RuntimeError(f"private redis on {self.port} did not start")
        finally:
            client.close()

    @staticmethod
    def _pings(client: redis.Redis) -> bool:
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(sig)
            self.process.wait(timeout=10)
            self.process = None

    def freeze(self) -> None:
        """SIGSTOP: connections are still accepted (by the kernel) but nothing answers, as
        with a Redis stalled or cut off by the network."""
        if self.process is not None:
            self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)

    def close(self) -> None:
        if self.process is not None:
            self.thaw()  # a stopped process would not act on SIGTERM
            _stop_group(self.process)
            self.process = None


class PrivatePostgres:
    """A cluster of our own: initdb (or a copy of a prepared one), `pg_ctl` on a free port,
    trust auth on 127.0.0.1, socket in the workdir."""

    def __init__(self, workdir: Path) -> None:
        self.bin = postgres_bin()
        self.port = free_port()
        # A dir of the postgres user's own: data, log and socket.
        self.home = workdir / "postgres"
        self.data = self.home / "data"
        self.running = False

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/hirfa"

    @property
    def plain_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/hirfa"

    def init(self, template: Path | None = None) -> None:
        self.home.mkdir(mode=0o700)
        _chown_postgres(self.home)
        if template is None:
            initdb = [str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"]
            subprocess.run(as_postgres([*initdb, "-E", "UTF8", "--no-sync"]), check=True, capture_output=True)
        else:
            subprocess.run(as_postgres(["cp", "-a", str(template), str(self.data)]), check=True, capture_output=True)

    def _ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.home} -c listen_addresses=127.0.0.1"
        argv = [str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.home / "postgres.log")]
        subprocess.run(as_postgres([*argv, "-o", options, "-w", "-t", "30", *args]), check=True, capture_output=True)

    def start(self) -> None:
        self._ctl("start")
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        """`immediate` is a crash: committed work must come back from the WAL on start."""
        self._ctl("stop", "-m", mode)
        self.running = False

    def clone(self, primary: PrivatePostgres) -> None:
        """Make this a streaming standby of the running `primary`: `pg_basebackup -R` copies
        it and writes standby.signal and primary_conninfo (then `start()` it)."""
        self.home.mkdir(mode=0o700)
        _chown_postgres(self.home)
        backup = [str(self.bin / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"]
        backup += ["-D", str(self.data), "-R", "-X", "stream", "-c", "fast", "--no-sync"]
        subprocess.run(as_postgres(backup), check=True, capture_output=True)

    def promote(self) -> None:
        """`pg_ctl promote -w`: a standby becomes a primary, accepting writes when it returns."""
        self._ctl("promote")

    def create_database(self) -> None:
        admin = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute("CREATE DATABASE hirfa")

    def close(self) -> None:
        if self.running:
            with contextlib.suppress(subprocess.CalledProcessError):
                self.stop("immediate")


def prepare_database(url: str) -> None:
    """Migrate (the app's Alembic), load the demo and the payment pool."""
    config = alembic_config(url)
    config.attributes["configure_logging"] = False
    command.upgrade(config, "head")
    engine = create_engine(url)
    now = dt.datetime.now(dt.UTC)
    try:
        with Session(engine) as session:
            load_demo(session, clock=lambda: now)
            session.commit()
    finally:
        engine.dispose()
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        copy_contributors(
            connection, count=POOL_SIZE, tag="DRILL", phone=lambda i: f"+212{POOL_PHONE_BASE + i}", now=now
        )
        connection.execute("ANALYZE")


class PreparedCluster:
    """One migrated, seeded and stopped cluster, copied by every drill of a run (a copy
    takes a fraction of a second; initdb, migrations and seeding take several)."""

    def __init__(self) -> None:
        self.workdir = make_workdir("template")
        self.data: Path | None = None

    def __enter__(self) -> PreparedCluster:
        try:
            cluster = PrivatePostgres(self.workdir)
            cluster.init()
            cluster.start()
            try:
                cluster.create_database()
                prepare_database(cluster.url)
            finally:
                cluster.stop("fast")
            self.data = cluster.data
        except BaseException:
            shutil.rmtree(self.workdir, ignore_errors=True)
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


def children(pid: int) -> list[int]:
    """Direct children of `pid` (granian's workers), from /proc."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(part) for part in (task / "children").read_text().split()]
    return sorted(set(found))


class Gateway:
    """The Procfile's `web:` line: granian, WSGI, N workers of one blocking thread each."""

    def __init__(self, workdir: Path, env: dict[str, str], *, workers: int = 2, extra: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.env = env
        self.workers = workers
        self.extra = extra
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        """The Procfile's `web:` line, on 127.0.0.1 and our port; `extra` goes before the app
        (to try a change of that line)."""
        argv = procfile_command("web", {"PORT": str(self.port), "WEB_CONCURRENCY": str(self.workers)})
        argv = ["127.0.0.1" if part == "0.0.0.0" else part for part in argv]  # never on every interface here
        return [*argv[:-1], *self.extra, argv[-1]]

    def start(self) -> None:
        argv = self.command()
        log = (self.workdir / "granian.log").open("ab")
        self.process = subprocess.Popen(
            argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()

    def wait_ready(self, timeout: float = 30) -> None:
        if not wait_until(self.ready, timeout, interval=0.1):
            raise RuntimeError(f"the gateway did not become ready; see {self.workdir / 'granian.log'}")
        # /readyz answers once one worker serves: wait for all of them.
        if not wait_until(lambda: len(self.worker_pids()) >= self.workers, timeout):
            raise RuntimeError("granian did not start all its workers")

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.base_url + "/readyz", timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def process_id(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def worker_pids(self) -> list[int]:
        return children(self.process.pid) if self.alive() and self.process is not None else []

    def close(self) -> None:
        if self.process is not None:
            _stop_group(self.process)
            self.process = None


@dataclass
class RqWorker:
    """The Procfile's `worker:` line, one process in a session of its own."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    killed: bool = False

    def alive(self) -> bool:
        return self.process.poll() is None

    def last_words(self) -> str:
        """The last line of its log that says why it stopped."""
        with contextlib.suppress(OSError):
            lines = [line for line in self.log.read_text(errors="replace").splitlines() if line.strip()]
            errors = [line for line in lines if "Error" in line or "error" in line]
            return (errors or lines or [""])[-1].strip()[:200]
        return ""

    def kill(self) -> None:
        """SIGKILL the worker and its scheduler (its own process group)."""
        self.killed = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def close(self) -> None:
        _stop_group(self.process, timeout=5)


@dataclass
class Stack:
    """Private Redis and PostgreSQL, fake Africa's Talking, the gateway and RQ workers."""

    name: str
    workdir: Path
    redis: PrivateRedis
    postgres: PrivatePostgres
    fake: FakeAfricasTalking
    gateway: Gateway
    workers: list[RqWorker] = field(default_factory=list)
    worker_count: int = 0
    env_overrides: dict[str, str] = field(default_factory=dict)  # a drill's own settings (SMS_BACKEND=smpp)

    def env(self) -> dict[str, str]:
        skipped = ("AT_", "SMS_", "HIRFA_", "USSD_", "REDIS_", "DATABASE_", "GRANIAN_", "PROMETHEUS_", "FLASK_")
        base = {name: value for name, value in os.environ.items() if not name.startswith(skipped)}
        return {
            **base,
            "PYTHONPATH": str(ROOT),
            "FLASK_APP": "wsgi",
            "HIRFA_ENV": "development",
            "DATABASE_URL": self.postgres.url,
            "REDIS_URL": self.redis.url,
            "REDIS_PREFIX": "hirfa:",
            "USSD_CALLBACK_KEY": CALLBACK_KEY,
            "SMS_BACKEND": "africastalking",
            "AT_USERNAME": "hirfa",
            "AT_API_KEY": API_KEY,
            "AT_API_BASE_URL": self.fake.base_url,
            # Short enough that a `sending` row left by a killed worker is swept within seconds.
            "AT_TIMEOUT_SECONDS": "1",
            "SMS_JOB_TIMEOUT_SECONDS": "7",
            "SMS_SENDING_TIMEOUT_SECONDS": "8",
            "SMS_PENDING_TIMEOUT_SECONDS": "1",
            "SMS_RETRY_BASE_SECONDS": "1",
            "SMS_RETRY_MAX_SECONDS": "4",
            "SMS_QUIET_HOURS": "",  # the real clock may be night in Casablanca
            "SMS_QUEUE": SMS_QUEUE,
            # Rate limits off: a few threads dial the same demo phones all the time.
            "USSD_HOPS_PER_PHONE_PER_MINUTE": "0",
            "CALLBACKS_PER_IP_PER_MINUTE": "0",
            "API_REQUESTS_PER_KEY_PER_MINUTE": "0",
            "API_REQUESTS_PER_IP_PER_MINUTE": "0",
            "LOGINS_PER_IP_PER_MINUTE": "0",
            "LOG_LEVEL": "WARNING",
            **self.env_overrides,
        }

    def start_worker(self) -> RqWorker:
        self.worker_count += 1
        name = f"drill-{self.name}-{self.worker_count}-{os.getpid()}"
        path = self.workdir / f"rq-{self.worker_count}.log"
        log = path.open("ab")
        argv = procfile_command("worker", {"REDIS_URL": self.redis.url, "SMS_QUEUE": SMS_QUEUE})
        process = subprocess.Popen(
            [*argv[:2], "--name", name, *argv[2:]],
            cwd=ROOT,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        worker = RqWorker(name, process, path)
        self.workers.append(worker)
        return worker

    @contextlib.contextmanager
    def supervised(self) -> Iterator[list[str]]:
        """Restart an RQ worker that exited on its own within a second, as a process
        supervisor (systemd, the platform running the Procfile) does; yields what it did."""
        restarts: list[str] = []
        stopping = threading.Event()

        def watch() -> None:
            while not stopping.wait(0.5):
                for worker in list(self.workers):
                    if not worker.alive() and not worker.killed:
                        worker.killed = True  # handled
                        restarts.append(f"{worker.name} exited ({worker.process.returncode}): {worker.last_words()}")
                        self.start_worker()

        thread = threading.Thread(target=watch, name="supervisor", daemon=True)
        thread.start()
        try:
            yield restarts
        finally:
            stopping.set()
            thread.join(timeout=5)

    def close_workers(self) -> None:
        for worker in self.workers:
            worker.close()

    def live_workers(self) -> list[RqWorker]:
        return [worker for worker in self.workers if worker.alive()]

    def sweep(self) -> str:
        """`flask sms sweep`, as the clock runs it every minute."""
        done = subprocess.run(
            [str(BIN / "flask"), "--app", "wsgi", "sms", "sweep"],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"flask sms sweep failed: {done.stderr[-2000:]}")
        return done.stdout.strip()

    def log_tail(self, lines: int = 30) -> str:
        parts = []
        for path in sorted(self.workdir.glob("*.log")):
            with contextlib.suppress(OSError):
                text = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(parts)


@contextlib.contextmanager
def stack(
    name: str,
    *,
    template: PreparedCluster | None = None,
    web_workers: int = 2,
    granian_extra: tuple[str, ...] = (),
    rq_workers: int = 1,
    keep_logs: bool = False,
) -> Iterator[Stack]:
    """Start everything, yield it, and stop and remove all of it whatever happens."""
    workdir = make_workdir(name)
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, workdir, True)
        fake = FakeAfricasTalking().start()
        cleanup.callback(fake.stop)
        private_redis = PrivateRedis(workdir)
        cleanup.callback(private_redis.close)
        private_redis.start()
        postgres = PrivatePostgres(workdir)
        cleanup.callback(postgres.close)
        postgres.init(template.data if template is not None else None)
        postgres.start()
        if template is None:
            postgres.create_database()
            prepare_database(postgres.url)
        placeholder = Gateway(workdir, {}, workers=web_workers, extra=granian_extra)
        built = Stack(name, workdir, private_redis, postgres, fake, placeholder)
        built.gateway.env = built.env()
        cleanup.callback(built.gateway.close)
        cleanup.callback(built.close_workers)
        if web_workers:
            built.gateway.start()
        for _ in range(rq_workers):
            built.start_worker()
        if web_workers:
            built.gateway.wait_ready()
        try:
            yield built
        except BaseException:
            if keep_logs:
                print(built.log_tail(), file=sys.stderr)
            raise
