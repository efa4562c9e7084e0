"""One copy at a time: a lease in Redis for the processes that must run once (the SMPP
bind, `flask smpp run`; the clock, `flask sms clock`).

Each copy tries `SET key token NX PX`; the one that gets it works and renews it every
RENEW_SECONDS with a compare-and-set (the key still holds its token), the others wait
("standby") and try again as often. A copy that dies stops renewing: its lease ends within
LEASE_SECONDS and a standby takes over. A copy that cannot renew stops its work at once
when Redis says the lease is someone else's (or gone), and when it could not renew for
LEASE_SECONDS - RENEW_SECONDS (Redis unreachable): before the lease can end, so two copies
never work at once (clocks of both hosts run at the same rate; their time of day may differ).
After a loss the copy waits again with a fresh work object."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable
from types import FrameType
from typing import Protocol

import redis

from gateway.config import Settings

log = logging.getLogger(__name__)

LEASE_SECONDS = 6.0
RENEW_SECONDS = 1.0

RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class Work(Protocol):
    """What runs while the lease is held: `run()` blocks until `stop()` (from another thread)."""

    def run(self) -> None: ...

    def stop(self) -> None: ...


class Lease:
    def __init__(self, client: redis.Redis, key: str, *, seconds: float = LEASE_SECONDS) -> None:
        self.client = client
        self.key = key
        self.millis = int(seconds * 1000)
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def acquire(self) -> bool:
        return bool(self.client.set(self.key, self.token, nx=True, px=self.millis))

    def renew(self) -> bool:
        """Extend the lease if it is still ours; False when it is someone else's or gone."""
        return bool(self.client.eval(RENEW, 1, self.key, self.token, self.millis))

    def release(self) -> None:
        try:
            self.client.eval(RELEASE, 1, self.key, self.token)
        except redis.RedisError:
            log.warning("lease not released: it ends by itself", extra={"lease": self.key})


class Renewal(threading.Thread):
    """Renews `lease` every `every` seconds until `done`; notes the last success (the time
    it was asked: the lease lasts at least its length from then) or that it is lost."""

    def __init__(self, lease: Lease, every: float) -> None:
        super().__init__(name=f"renew-{lease.key}", daemon=True)
        self.lease = lease
        self.every = every
        self.renewed_at = time.monotonic()  # the lease was just set
        self.lost = threading.Event()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.every):
            asked = time.monotonic()
            try:
                if not self.lease.renew():
                    self.lost.set()
                    return
            except redis.RedisError:
                log.warning("leader: lease not renewed (redis)", extra={"lease": self.lease.key})
                continue
            self.renewed_at = asked


def lease_key(redis_prefix: str, name: str) -> str:
    return f"{redis_prefix}leader:{name}"


class Leadership:
    """Run works made by `make_work` one at a time, only while `lease` is held, until `quit`."""

    def __init__(
        self,
        lease: Lease,
        make_work: Callable[[], Work],
        *,
        renew_seconds: float = RENEW_SECONDS,
        quit_event: threading.Event | None = None,
    ) -> None:
        self.lease = lease
        self.make_work = make_work
        self.renew_seconds = renew_seconds
        self.quit = quit_event or threading.Event()
        self.working = threading.Event()  # set while a work runs (tests and logs)

    def run(self) -> None:
        standby_said = False
        while not self.quit.is_set():
            try:
                won = self.lease.acquire()
            except redis.RedisError:
                log.warning("lease: redis unavailable; trying again", extra={"lease": self.lease.key})
                won = False
            if not won:
                if not standby_said:
                    log.info("standby: another copy holds the lease", extra={"lease": self.lease.key})
                    standby_said = True
                self.quit.wait(self.renew_seconds)
                continue
            standby_said = False
            self._lead()

    def _lead(self) -> None:
        log.info("leader: lease taken, starting", extra={"lease": self.lease.key})
        renewal = Renewal(self.lease, self.renew_seconds)
        work = self.make_work()
        thread = threading.Thread(target=work.run, name=f"lease-{self.lease.key}", daemon=True)
        self.working.set()
        thread.start()
        renewal.start()
        # A renewal can hang (redis-py retries a broken connection for seconds): this loop
        # only reads how long ago the last one succeeded.
        deadline = self.lease.millis / 1000 - self.renew_seconds
        try:
            while not self.quit.wait(self.renew_seconds / 4):
                if not thread.is_alive():
                    log.warning("leader: the work ended by itself", extra={"lease": self.lease.key})
                    self.quit.set()
                elif renewal.lost.is_set():
                    log.error("leader: lease lost to another copy; stopping", extra={"lease": self.lease.key})
                    return
                elif time.monotonic() - renewal.renewed_at >= deadline:
                    log.error("leader: lease not renewed in time; stopping", extra={"lease": self.lease.key})
                    return
        finally:
            work.stop()
            renewal.done.set()
            thread.join()
            self.working.clear()
            if self.quit.is_set():
                self.lease.release()

    def stop(self) -> None:
        self.quit.set()


def run_alone(name: str, settings: Settings, client: redis.Redis, make_work: Callable[[], Work]) -> None:
    """The command of a process that must run once (`flask smpp run`, `flask sms clock`):
    its work runs only while this copy holds the lease `name`; SIGTERM or SIGINT stops it
    (and frees the lease for a standby at once). With the embedded stand-in (fakeredis, in
    this process only) there is nothing to share a lease with: the work runs at once."""
    if settings.uses_embedded_redis:
        work = make_work()
        _on_signals(work.stop)
        work.run()
        return
    leadership = Leadership(Lease(client, lease_key(settings.redis_prefix, name)), make_work)
    _on_signals(leadership.stop)
    leadership.run()


def _on_signals(stop: Callable[[], None]) -> None:
    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
