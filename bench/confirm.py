"""Confirm latency: `python bench/confirm.py [--payments 200]`.

On a database of its own (dropped at the end) and real Redis, creates N artisans each
with an open 3-month reference, then confirms half of them through the signed partner
API and half through the agent's USSD hop (`1` cash received), one at a time, and prints
p50/p95/p99 of each. In process (Flask test client): the HTTP server is not measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from redis import Redis  # noqa: E402
from sqlalchemy import create_engine, insert, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from gateway import create_app  # noqa: E402
from gateway.clock import add_months, month_start  # noqa: E402
from gateway.config import Settings  # noqa: E402
from gateway.demo import load_demo  # noqa: E402
from gateway.partners.keys import create_key  # noqa: E402
from gateway.partners.signing import signed_headers  # noqa: E402
from gateway.payments.service import PaymentService  # noqa: E402
from models import Artisan  # noqa: E402
from tests.conftest import CALLBACK_KEY, REDIS_URL, create_database, dispose, drop_database  # noqa: E402
from tests.helpers import Dialer  # noqa: E402


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(int(q * len(ordered)), len(ordered) - 1)] * 1000  # noqa: E731
    return f"p50 {statistics.median(ordered) * 1000:.1f} ms, p95 {pick(0.95):.1f} ms, p99 {pick(0.99):.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--payments", type=int, default=200)
    args = parser.parse_args()
    url = create_database("hirfa_bench_confirm")
    settings = Settings(
        env="development",
        database_url=url,
        redis_url=REDIS_URL,
        redis_prefix="hirfa-bench-confirm:",
        ussd_callback_key=CALLBACK_KEY,
        log_level="WARNING",
        # One agent confirms for hundreds of artisans, far above a person's pace; the
        # partner API's per-key limit likewise.
        ussd_hops_per_phone_per_minute=100_000,
        api_requests_per_key_per_minute=100_000,
        api_requests_per_ip_per_minute=100_000,
    )
    app = create_app(settings)
    engine = create_engine(url)
    now = dt.datetime.now(dt.UTC)
    start = add_months(month_start(now.date()), -2)
    try:
        with Session(engine) as db:
            load_demo(db, clock=lambda: now)
            key, secret = create_key(
                db, name="bench", network="wafacash", reimbursements=False, settings=settings, clock=lambda: now
            )
            db.execute(
                insert(Artisan),
                [
                    dict(
                        rna_number=f"BENCH-{i:06d}",
                        cin=f"BC{i:06d}",
                        first_name="Bench",
                        last_name="Artisan",
                        birth_year=1980,
                        phone=f"+2126{20000000 + i:08d}",
                        trade="pottery",
                        category="artisan",
                        contribution_category="rna_no_income_tax",
                        province_code="03.231",
                        commune_code="03.231.01.0",
                        rna_status="registered",
                        amo_status="pre_registered",
                        amo_start_month=start,
                        created_at=now,
                        updated_at=now,
                    )
                    for i in range(args.payments)
                ],
            )
            service = PaymentService(db=db, settings=settings, clock=lambda: now)
            references = [
                service.request_reference(artisan_id=artisan_id, count=3, network="wafacash")[0].reference
                for artisan_id in db.scalars(select(Artisan.id).where(Artisan.rna_number.like("BENCH-%")))
            ]
            key_id = key.key_id
            db.commit()
        client = app.test_client()

        def post(path: str, form: dict[str, str]) -> tuple[int, str]:
            response = client.post(path, data=form)
            return response.status_code, response.get_data(as_text=True)

        api, ussd = [], []
        for index, reference in enumerate(references):
            if index % 2:
                agent = Dialer(post, "+212700000001", key=CALLBACK_KEY)
                agent.start()
                agent.send("1234", "1", reference)
                began = time.perf_counter()
                reply = agent.send("1")
                ussd.append(time.perf_counter() - began)
                assert "الوصل" in reply or "98" in reply, reply
            else:
                body = json.dumps(
                    {
                        "reference": reference,
                        "amount_centimes": 40500,
                        "network_txn_id": f"B-{index}",
                        "agent_code": "WFC-FES-001",
                        "paid_at": now.isoformat(),
                    }
                ).encode()
                headers = signed_headers("POST", "/api/v1/payments", body, key_id, secret)
                began = time.perf_counter()
                response = client.post("/api/v1/payments", data=body, content_type="application/json", headers=headers)
                api.append(time.perf_counter() - began)
                assert response.status_code == 201, response.get_data(as_text=True)
        print(f"confirm over the API ({len(api)}): {percentiles(api)}")
        print(f"confirm over USSD, agent hop ({len(ussd)}): {percentiles(ussd)}")
    finally:
        engine.dispose()
        dispose(app)
        drop_database(url)
        redis = Redis.from_url(REDIS_URL)
        for redis_key in redis.scan_iter(match="hirfa-bench-confirm:*", count=1000):
            redis.delete(redis_key)


if __name__ == "__main__":
    main()
