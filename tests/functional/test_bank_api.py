"""The banks' side of the partner API: a bank key lists its own leads (paged, oldest
first, marked fetched) and reports what became of them; it sees nothing else, and no
other key sees the leads."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.banks.service import request_lead
from gateway.config import Settings
from gateway.partners.keys import create_key
from menus.banks import CONSENT_VERSION
from models import Artisan, BankLead, OutboxMessage
from tests.functional.test_partner_api import Partner, error_of, partner_for
from tests.helpers import FrozenClock

PHONES = ("+212600000001", "+212600000002", "+212600000003")


def bank_partner(client: FlaskClient, db: Session, settings: Settings, clock: FrozenClock, bank: str) -> Partner:
    key, secret = create_key(
        db, name=f"bank {bank}", network=None, reimbursements=False, bank=bank, settings=settings, clock=clock
    )
    db.commit()
    return Partner(client, key.key_id, secret, clock)


@pytest.fixture
def awb(client: FlaskClient, demo: Session, settings: Settings, clock: FrozenClock) -> Partner:
    return bank_partner(client, demo, settings, clock, "awb")


@pytest.fixture
def cam(client: FlaskClient, demo: Session, settings: Settings, clock: FrozenClock) -> Partner:
    return bank_partner(client, demo, settings, clock, "cam")


def lead(db: Session, clock: FrozenClock, phone: str, bank: str) -> int:
    artisan_id = db.scalar(select(Artisan.id).where(Artisan.phone == phone))
    assert artisan_id is not None
    row, created = request_lead(
        db, artisan_id=artisan_id, bank=bank, consent_version=CONSENT_VERSION, clock=clock, default_language="ar"
    )
    db.commit()
    assert created
    return row.id


def test_leads_are_listed_oldest_first_a_page_at_a_time(
    awb: Partner, cam: Partner, demo: Session, clock: FrozenClock
) -> None:
    made = []
    for phone in PHONES:
        made.append(lead(demo, clock, phone, "awb"))
        clock.advance(minutes=5)
    other = lead(demo, clock, PHONES[0], "cam")
    first = awb.get("/api/v1/leads?status=new&limit=2")
    assert first.status_code == 200, first.get_data(as_text=True)
    page = first.get_json()
    assert [row["id"] for row in page["leads"]] == made[:2] and page["next"] == str(made[1])
    youssef = page["leads"][1]
    assert youssef["status"] == "new" and youssef["reason"] is None
    assert youssef["consent"] == {"version": CONSENT_VERSION, "at": "2026-11-24T10:05:00Z"}
    assert youssef["created_at"] == "2026-11-24T10:05:00Z"
    assert youssef["artisan"]["phone"] == "+212600000002" and youssef["artisan"]["first_name"] == "Youssef"
    assert youssef["artisan"]["commune"]["code"] == "07.351.01.0"
    assert youssef["artisan"]["commune"]["name_fr"] and youssef["artisan"]["commune"]["name_ar"]
    # A lead added, or one changing status, between pages does not shift the next page.
    assert awb.post(f"/api/v1/leads/{made[0]}/status", {"status": "contacted"}).status_code == 200
    second = awb.get(f"/api/v1/leads?status=new&limit=2&after={page['next']}").get_json()
    assert [row["id"] for row in second["leads"]] == [made[2]] and second["next"] is None
    # Fetching marks the leads, once; the other bank's lead is untouched.
    fetched = {row.id: row.first_fetched_at for row in demo.scalars(select(BankLead))}
    assert all(fetched[i] is not None for i in made) and fetched[other] is None
    assert [row["id"] for row in cam.get("/api/v1/leads").get_json()["leads"]] == [other]


@pytest.mark.parametrize(
    "query", ["status=open", "limit=0", "limit=101", "limit=x", "after=0", "after=-1", "page=2", "after=1%202"]
)
def test_a_malformed_query_is_a_400(awb: Partner, query: str) -> None:
    response = awb.get(f"/api/v1/leads?{query}")
    assert response.status_code == 400 and error_of(response) == "invalid_field"


def test_a_bank_sees_only_its_own_leads_and_nothing_else(
    awb: Partner, cam: Partner, demo: Session, clock: FrozenClock, client: FlaskClient, settings: Settings
) -> None:
    theirs = lead(demo, clock, PHONES[0], "cam")
    response = awb.post(f"/api/v1/leads/{theirs}/status", {"status": "contacted"})
    assert response.status_code == 404 and error_of(response) == "lead_not_found"
    assert awb.get("/api/v1/leads").get_json()["leads"] == []
    missing = awb.post("/api/v1/leads/999999/status", {"status": "contacted"})
    assert missing.status_code == 404 and error_of(missing) == "lead_not_found"
    # No other resource: references, payments, reimbursements.
    for response in (
        awb.get("/api/v1/references/0000000000"),
        awb.post("/api/v1/payments", {"reference": "0000000000"}),
        awb.post("/api/v1/payments/WF0000000000/reversal", {"reason": "x"}),
        awb.send("PUT", "/api/v1/reimbursements/C-1", b"{}", awb.headers("PUT", "/api/v1/reimbursements/C-1", b"{}")),
    ):
        assert response.status_code == 403 and error_of(response) == "wrong_partner"
    # And no other key sees the leads.
    wafacash = partner_for(client, demo, settings, clock, "wafacash counters", "wafacash")
    feed = partner_for(client, demo, settings, clock, "cnss feed", None)
    for other in (wafacash, feed):
        assert error_of(other.get("/api/v1/leads")) == "wrong_partner"
        refused = other.post(f"/api/v1/leads/{theirs}/status", {"status": "contacted"})
        assert refused.status_code == 403 and error_of(refused) == "wrong_partner"


def test_status_transitions_and_the_account_opened_sms(awb: Partner, demo: Session, clock: FrozenClock) -> None:
    lead_id = lead(demo, clock, PHONES[2], "awb")  # Aicha, French
    path = f"/api/v1/leads/{lead_id}/status"
    declined = awb.post(path, {"status": "declined"})
    assert declined.status_code == 422 and error_of(declined) == "reason_required"
    assert awb.post(path, {"status": "declined", "reason": None}).status_code == 422
    assert error_of(awb.post(path, {"status": "new"})) == "invalid_field"
    assert error_of(awb.post(path, {"status": "contacted", "extra": 1})) == "invalid_field"
    contacted = awb.post(path, {"status": "contacted"})
    assert contacted.status_code == 200 and contacted.get_json()["status"] == "contacted"
    assert awb.post(path, {"status": "contacted"}).status_code == 200  # the same body again
    clock.advance(hours=1)
    opened = awb.post(path, {"status": "account_opened", "reason": "RIB 123"})
    assert opened.status_code == 200 and opened.get_json()["status"] == "account_opened"
    again = awb.post(path, {"status": "account_opened", "reason": "RIB 123"})
    assert again.status_code == 200 and again.get_json() == opened.get_json()
    conflict = awb.post(path, {"status": "account_opened", "reason": "another"})
    assert conflict.status_code == 409 and error_of(conflict) == "lead_status_conflict"
    late = awb.post(path, {"status": "declined", "reason": "changed our mind"})
    assert late.status_code == 409 and error_of(late) == "lead_status_conflict"
    assert error_of(awb.post(path, {"status": "contacted"})) == "lead_status_conflict"
    sms = demo.scalars(select(OutboxMessage).where(OutboxMessage.template == "bank_account_opened")).all()
    assert len(sms) == 1 and sms[0].recipient == PHONES[2] and sms[0].language == "fr"
    assert "Attijariwafa bank" in sms[0].body
    row = demo.get(BankLead, lead_id)
    assert row is not None and row.updated_at == clock() and row.reason == "RIB 123"


def test_a_declined_lead_frees_the_artisan_to_ask_again(awb: Partner, demo: Session, clock: FrozenClock) -> None:
    lead_id = lead(demo, clock, PHONES[0], "awb")
    response = awb.post(f"/api/v1/leads/{lead_id}/status", {"status": "declined", "reason": "no CIN copy"})
    assert response.status_code == 200 and response.get_json()["reason"] == "no CIN copy"
    assert lead(demo, clock, PHONES[0], "awb") != lead_id
    assert (
        demo.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.template == "bank_lead")) == 2
    )


def test_a_malformed_lead_id_is_a_400(awb: Partner) -> None:
    for lead_id in ("0", "abc", "9" * 19):
        response = awb.post(f"/api/v1/leads/{lead_id}/status", {"status": "contacted"})
        assert response.status_code == 400 and error_of(response) == "invalid_field", lead_id


def test_the_cli_makes_bank_keys(client: FlaskClient, demo: Session) -> None:
    runner = client.application.test_cli_runner()
    made = runner.invoke(args=["partners", "create", "AWB leads", "--bank", "awb"])
    assert made.exit_code == 0, made.output
    key_id = json.loads(made.stdout.splitlines()[0])["key_id"]
    listed = runner.invoke(args=["partners", "list"])
    assert f"{key_id}\tAWB leads\tawb\tactive" in listed.output
    both = runner.invoke(args=["partners", "create", "x", "--bank", "awb", "--network", "wafacash"])
    assert both.exit_code != 0
    assert runner.invoke(args=["partners", "create", "y", "--bank", "bmce"]).exit_code != 0


def test_leads_carry_utc_times(awb: Partner, demo: Session, clock: FrozenClock) -> None:
    lead(demo, clock, PHONES[0], "awb")
    row = awb.get("/api/v1/leads").get_json()["leads"][0]
    assert dt.datetime.fromisoformat(row["created_at"].replace("Z", "+00:00")) == clock()
