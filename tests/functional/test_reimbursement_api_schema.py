"""`PUT /api/v1/reimbursements/{claim_number}` against the OpenAPI document it serves,
signed with the reimbursement feed's key (tests/functional/test_api_schema.py signs with
a cash network's key, which this endpoint refuses)."""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from flask import Flask
from schemathesis import BaseSchema, Case
from sqlalchemy.orm import Session

from gateway.config import Settings
from gateway.partners.keys import create_key
from gateway.web.openapi import openapi_document
from tests.functional.test_api_schema import JSON, Signer
from tests.helpers import FrozenClock

OPERATION = "putReimbursement"
schema = schemathesis.openapi.from_dict(openapi_document()).include(operation_id=OPERATION)


@pytest.fixture
def feed(app: Flask, demo: Session, settings: Settings, clock: FrozenClock) -> Signer:
    key, secret = create_key(
        demo, name="schemathesis feed", network=None, reimbursements=True, settings=settings, clock=clock
    )
    demo.commit()
    return Signer(app, key.key_id, secret, clock)


@pytest.fixture
def api_schema() -> BaseSchema:
    return schema


@schema.parametrize()
@hypothesis.settings(
    max_examples=80,
    deadline=None,
    database=None,
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture],
)
def test_every_answer_is_documented(case: Case, feed: Signer) -> None:
    feed.call(case)


def test_a_claims_life_matches_the_document(api_schema: BaseSchema, feed: Signer, demo: Session) -> None:
    put = api_schema["/api/v1/reimbursements/{claim_number}"]["PUT"]

    def send(number: str, **body: object) -> int:
        request = {"cin": "CD234567", "amount_centimes": 45000, "status": "received"} | body
        return feed.call(put.Case(path_parameters={"claim_number": number}, body=request, media_type=JSON))

    assert send("CLM-1") == 201
    assert send("CLM-1") == 200
    assert send("CLM-1", status="in_review", cin=None, cnss_number="1000000001") == 200
    ready = {"network": "fellah_cash", "pick_up_code": "FC-1", "available_until": "2026-12-08"}
    assert send("CLM-1", status="available", **ready) == 200
    assert send("CLM-1", status="available") == 422
    assert send("CLM-1", status="rejected", reason="Ordonnance manquante") == 200
    assert send("CLM-1", cin="JK456789") == 409
    assert send("CLM-2", cin="ZZ999999") == 404
    assert send("CLM 3") == 400
