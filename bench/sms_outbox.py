"""Outbox throughput: `python bench/sms_outbox.py [--rows 2000] [--workers 2]`.

On a database of its own (dropped at the end) and real Redis: queues N SMS as outbox rows
(commits of 500, each enqueuing its jobs after commit), then starts W real RQ workers
(`rq worker --burst`, SimpleWorker, JSON serializer: what the Procfile runs) that send them
through the real job and the `africastalking` SDK to the local fake Africa's Talking server
(in this process, threaded). Prints SMS per second, with and without the workers' start-up.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from gateway import create_app  # noqa: E402
from gateway.config import Settings  # noqa: E402
from gateway.db import get_db  # noqa: E402
from gateway.sms.dispatch import SmsDispatcher  # noqa: E402
from gateway.sms.fake_africastalking import API_KEY, FakeAfricasTalking  # noqa: E402
from gateway.sms.outbox import queue_sms  # noqa: E402
from gateway.sms_app import EXTENSION  # noqa: E402
from models import OutboxMessage  # noqa: E402
from tests.conftest import REDIS_URL, create_database, dispose, drop_database  # noqa: E402

CHUNK = 500


def worker_environment(settings: Settings) -> dict[str, str]:
    keep = {name: value for name, value in os.environ.items() if not name.startswith(("AT_", "SMS_", "HIRFA_"))}
    return {
        **keep,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "REDIS_PREFIX": settings.redis_prefix,
        "SMS_BACKEND": "africastalking",
        "AT_USERNAME": settings.at_username,
        "AT_API_KEY": settings.at_api_key,
        "AT_API_BASE_URL": settings.at_api_base_url,
        "SMS_QUEUE": settings.sms_queue,
        "SMS_QUIET_HOURS": "",
        "LOG_LEVEL": "WARNING",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    url = create_database("hirfa_bench_sms")
    token = secrets.token_hex(4)
    with FakeAfricasTalking() as fake:
        settings = Settings(
            env="development",
            database_url=url,
            redis_url=REDIS_URL,
            redis_prefix=f"hirfa-bench-sms:{token}:",
            log_level="WARNING",
            sms_backend="africastalking",
            at_username="hirfa",
            at_api_key=API_KEY,
            at_api_base_url=fake.base_url,
            sms_queue=f"hirfa-bench-{token}",
            sms_quiet_hours="",
        )
        app = create_app(settings)
        sms: SmsDispatcher = app.extensions[EXTENSION]
        workers: list[subprocess.Popen[bytes]] = []
        try:
            started = time.perf_counter()
            with app.app_context():
                db = get_db()
                for first in range(0, args.rows, CHUNK):
                    for n in range(first, min(first + CHUNK, args.rows)):
                        queue_sms(
                            db,
                            recipient=f"+2126{n:08d}",
                            language="ar" if n % 2 else "fr",
                            template="phone_linked",
                            code="*4242#",
                        )
                    db.commit()
            queued = time.perf_counter() - started
            assert sms.queue.count == args.rows, sms.queue.count
            print(f"{args.rows} rows written and enqueued after commit in {queued:.2f} s")

            command = [str(Path(sys.executable).parent / "rq"), "worker", "--burst", "--serializer", "json"]
            command += ["--worker-class", "rq.SimpleWorker", "--url", REDIS_URL, "--quiet", settings.sms_queue]
            started = time.perf_counter()
            workers = [
                subprocess.Popen(command, cwd=ROOT, env=worker_environment(settings), stderr=subprocess.DEVNULL)
                for _ in range(args.workers)
            ]
            for worker in workers:
                worker.wait(timeout=600)
            wall = time.perf_counter() - started
            with app.app_context():
                db = get_db()
                sent, first_at, last_at = db.execute(
                    select(func.count(), func.min(OutboxMessage.sent_at), func.max(OutboxMessage.sent_at)).where(
                        OutboxMessage.state == "sent"
                    )
                ).one()
            steady = (last_at - first_at).total_seconds() if sent > 1 else float("nan")
            print(f"{sent}/{args.rows} sent, {len(fake.received)} requests to the fake Africa's Talking")
            print(f"{args.workers} workers: {sent / wall:.0f} SMS/s including start-up ({wall:.2f} s)")
            print(f"{args.workers} workers: {(sent - 1) / steady:.0f} SMS/s steady (first to last sent_at)")
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.terminate()
                    worker.wait()
            sms.queue.delete(delete_jobs=True)
            dispose(app)
            drop_database(url)


if __name__ == "__main__":
    sys.exit(main())
