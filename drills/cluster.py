"""`make cluster` / `make cluster-stop`: the highly available topology (drills/topology.py)
on this machine, for trying it by hand.

    python -m drills.cluster start   # starts it in the background, prints where and how to dial
    python -m drills.cluster stop    # stops every process of it and removes its temp dir
    python -m drills.cluster status

`start` runs `serve` detached: one process that owns the whole cluster (as the drills do)
and writes instance/cluster.json once it serves; `stop` sends it SIGTERM, and it stops
everything it started."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from drills.infra import AGENT_PHONE, AGENT_PIN, BIN, CALLBACK_KEY, ROOT, wait_until
from drills.topology import Cluster, cluster

STATE = ROOT / "instance" / "cluster.json"
START_TIMEOUT = 180.0


def describe(built: Cluster) -> dict[str, object]:
    assert built.haproxy is not None and built.replica is not None and built.standby is not None
    env = built.env()
    return {
        "pid": os.getpid(),
        "workdir": str(built.workdir),
        "haproxy": built.base_url,
        "haproxy_socket": str(built.haproxy.socket),
        "web": [instance.base_url for instance in built.instances],
        "redis_master": built.redis.port,
        "redis_replica": built.replica.port,
        "sentinels": env["REDIS_SENTINELS"],
        "postgres_primary": built.postgres.port,
        "postgres_standby": built.standby.port,
        "DATABASE_URL": env["DATABASE_URL"],
        "DATABASE_READ_URL": env["DATABASE_READ_URL"],
        "REDIS_SENTINELS": env["REDIS_SENTINELS"],
        "USSD_CALLBACK_KEY": CALLBACK_KEY,
        "fake_africastalking": built.fake.base_url,
    }


def serve() -> int:
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    with cluster("cluster") as built:
        STATE.parent.mkdir(exist_ok=True)
        STATE.write_text(json.dumps(describe(built), indent=2))
        try:
            stopping.wait()
        finally:
            STATE.unlink(missing_ok=True)
    return 0


def _state() -> dict[str, object] | None:
    with contextlib.suppress(OSError, ValueError):
        return dict(json.loads(STATE.read_text()))
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def show(state: dict[str, object]) -> None:
    flask = f"HIRFA_ENV=development {BIN / 'flask'} --app wsgi"
    web = ", ".join(str(url) for url in state["web"])  # type: ignore[attr-defined]
    print(
        f"""Hirfa cluster (pid {state["pid"]}), files and logs in {state["workdir"]}
  HAProxy        {state["haproxy"]}  (deploy/haproxy.cfg; admin socket {state["haproxy_socket"]})
  web instances  {web}
  Redis          master :{state["redis_master"]}, replica :{state["redis_replica"]}, Sentinels {state["sentinels"]}
  PostgreSQL     primary :{state["postgres_primary"]}, standby :{state["postgres_standby"]} (synchronous)
  SMS            to the fake Africa's Talking {state["fake_africastalking"]}

Dial the demo through HAProxy:
  {flask} ussd dial --url {state["haproxy"]} --key {state["USSD_CALLBACK_KEY"]} +212600000001 1
An agent (PIN {AGENT_PIN}): {flask} ussd dial --url {state["haproxy"]} --key {state["USSD_CALLBACK_KEY"]} {AGENT_PHONE}
Its settings, for other commands against it:
  DATABASE_URL='{state["DATABASE_URL"]}'
  REDIS_SENTINELS={state["REDIS_SENTINELS"]} REDIS_SENTINEL_MASTER=hirfa
Break it: kill the Redis master or the PostgreSQL primary (then `pg_ctl promote` the standby),
a web instance, or HAProxy; `make drills` does it under load and counts. `make cluster-stop` ends it."""
    )


def start() -> int:
    state = _state()
    if state is not None and _alive(int(str(state["pid"]))):
        print("already running:")
        show(state)
        return 0
    STATE.unlink(missing_ok=True)
    log = Path(tempfile.gettempdir()) / f"hirfa-cluster-{os.getpid()}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "drills.cluster", "serve"],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    print(f"starting (Redis, 3 Sentinels, PostgreSQL and its standby, 2 web instances, HAProxy…); log {log}")
    wait_until(lambda: STATE.exists() or process.poll() is not None, START_TIMEOUT, 0.2)
    state = _state()
    if state is None:
        print(f"the cluster did not start:\n{log.read_text(errors='replace')[-3000:]}", file=sys.stderr)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        return 1
    show(state)
    return 0


def stop() -> int:
    state = _state()
    if state is None:
        print(f"no cluster running ({STATE} not found)")
        return 0
    pid = int(str(state["pid"]))
    if _alive(pid):
        os.kill(pid, signal.SIGTERM)
        if not wait_until(lambda: not _alive(pid), 60, 0.2):
            print(f"cluster process {pid} did not stop within 60 s", file=sys.stderr)
            return 1
    STATE.unlink(missing_ok=True)
    print(f"stopped the cluster (pid {pid}) and removed {state['workdir']}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("start", "stop", "status", "serve"))
    action = parser.parse_args().action
    if action == "status":
        state = _state()
        if state is None or not _alive(int(str(state["pid"]))):
            print("no cluster running")
            return 1
        show(state)
        return 0
    return {"start": start, "stop": stop, "serve": serve}[action]()


if __name__ == "__main__":
    raise SystemExit(main())
