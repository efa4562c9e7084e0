"""The partner API against the OpenAPI document it serves.

Schemathesis generates requests from the document (valid and invalid), each signed with
a real network key (and, for the leads, with a bank's key); every answer must be
documented (status, content type, body schema) and none may be a 5xx. Then the answers
of a real payment's and a real lead's life are checked the same way, since random
references and lead ids almost never exist."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import hypothesis
import pytest
import schemathesis
from flask import Flask
from schemathesis import BaseSchema, Case
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.transport.requests import prepare_query
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.urls import _urlencode  # what werkzeug's client does with a query mapping

from gateway.banks.service import request_lead
from gateway.config import Settings
from gateway.partners.keys import create_key
from gateway.partners.signing import AUTH_CODES, signed_headers
from gateway.payments.service import PaymentService
from gateway.web.api import STATUS_BY_CODE
from gateway.web.openapi import openapi_document
from menus.banks import CONSENT_VERSION
from models import Artisan, BankLead, Payment, PaymentReference
from tests.helpers import FrozenClock

JSON = "application/json"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@dataclasses.dataclass
class Signer:
    app: Flask
    key_id: str
    secret: str
    clock: FrozenClock

    def headers(self, method: str, path: str, body: bytes) -> dict[str, str]:
        stamp = int(self.clock().timestamp())
        return signed_headers(method, path, body, self.key_id, self.secret, timestamp=stamp)

    def call(self, case: Case) -> int:
        """Send `case` signed, with the exact bytes signed, check the answer and return its status."""
        body = case.body
        if not isinstance(body, bytes):  # negative cases may be raw bytes, sent as they are
            body = b"" if isinstance(body, NotSet) else json.dumps(body).encode()
        # The path exactly as it goes on the request line, percent-encoding and all, with
        # the query string werkzeug's client will make of the case's query.
        path = case.operation.schema.get_full_path(case.formatted_path)
        query = prepare_query(case)
        encoded = query if isinstance(query, str) else _urlencode(query) if query else ""
        if encoded:
            path = f"{path}?{encoded}"
        response = case.call_and_validate(
            app=self.app, headers=self.headers(case.method, path, body), data=body, checks=CHECKS
        )
        return response.status_code


@pytest.fixture
def bank_signer(app: Flask, demo: Session, settings: Settings, clock: FrozenClock) -> Signer:
    """A bank's key, with a lead of its own to list and update."""
    key, secret = create_key(
        demo, name="schemathesis bank", network=None, reimbursements=False, bank="awb", settings=settings, clock=clock
    )
    aicha = demo.scalar(select(Artisan.id).where(Artisan.phone == "+212600000003"))
    assert aicha is not None
    request_lead(
        demo, artisan_id=aicha, bank="awb", consent_version=CONSENT_VERSION, clock=clock, default_language="fr"
    )
    demo.commit()
    return Signer(app, key.key_id, secret, clock)


@pytest.fixture
def signer(app: Flask, demo: Session, settings: Settings, clock: FrozenClock) -> Signer:
    key, secret = create_key(
        demo, name="schemathesis", network="wafacash", reimbursements=False, settings=settings, clock=clock
    )
    demo.commit()
    return Signer(app, key.key_id, secret, clock)


# The document is data, built without an app. (`schemathesis.pytest.from_fixture` would load
# it from the app, but its lazy loader sets `Node._nodeid`, which pytest 9 no longer has.)
schema = schemathesis.openapi.from_dict(openapi_document())


@pytest.fixture
def api_schema() -> BaseSchema:
    return schema


@schema.parametrize()
# One database and one key for all the examples of an operation is what we want here.
@hypothesis.settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture],
)
def test_every_answer_is_documented(case: Case, signer: Signer) -> None:
    signer.call(case)


@schema.include(path_regex="/leads").parametrize()
@hypothesis.settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture],
)
def test_every_answer_to_a_bank_key_is_documented(case: Case, bank_signer: Signer) -> None:
    bank_signer.call(case)


def test_a_leads_life_matches_the_document(api_schema: BaseSchema, bank_signer: Signer, demo: Session) -> None:
    lead_id = demo.scalar(select(BankLead.id))
    assert lead_id is not None
    listing = api_schema["/api/v1/leads"]["GET"]
    update = api_schema["/api/v1/leads/{lead_id}/status"]["POST"]
    path = {"lead_id": str(lead_id)}
    assert bank_signer.call(listing.Case(query={"status": "new", "limit": 1})) == 200
    assert bank_signer.call(update.Case(path_parameters=path, body={"status": "declined"}, media_type=JSON)) == 422
    assert bank_signer.call(update.Case(path_parameters=path, body={"status": "contacted"}, media_type=JSON)) == 200
    opened = {"status": "account_opened", "reason": None}
    assert bank_signer.call(update.Case(path_parameters=path, body=opened, media_type=JSON)) == 200
    assert bank_signer.call(update.Case(path_parameters=path, body=opened, media_type=JSON)) == 200
    assert bank_signer.call(update.Case(path_parameters=path, body={"status": "contacted"}, media_type=JSON)) == 409
    missing = {"lead_id": str(lead_id + 1000)}
    assert bank_signer.call(update.Case(path_parameters=missing, body={"status": "contacted"}, media_type=JSON)) == 404


def test_a_payments_life_matches_the_document(
    api_schema: BaseSchema, signer: Signer, demo: Session, settings: Settings, clock: FrozenClock
) -> None:
    youssef = demo.scalar(select(Artisan.id).where(Artisan.phone == "+212600000002"))
    assert youssef is not None
    row, _ = PaymentService(db=demo, settings=settings, clock=clock).request_reference(
        artisan_id=youssef, count=3, network="wafacash"
    )
    demo.commit()
    reference = row.reference
    look_up = api_schema["/api/v1/references/{reference}"]["GET"]
    pay = api_schema["/api/v1/payments"]["POST"]
    reverse = api_schema["/api/v1/payments/{receipt}/reversal"]["POST"]
    body = {
        "reference": reference,
        "amount_centimes": 40500,
        "network_txn_id": "T-1",
        "agent_code": "WFC-FES-001",
        "paid_at": "2026-11-24T10:00:00Z",
    }

    assert signer.call(look_up.Case(path_parameters={"reference": reference})) == 200
    assert signer.call(pay.Case(body=body | {"amount_centimes": 100}, media_type=JSON)) == 422
    assert signer.call(pay.Case(body=body, media_type=JSON)) == 201
    assert signer.call(pay.Case(body=body, media_type=JSON)) == 201  # the same answer again
    assert signer.call(pay.Case(body=body | {"agent_code": "X"}, media_type=JSON)) == 409
    receipt = demo.scalar(
        select(Payment.receipt_number).join(PaymentReference).where(PaymentReference.reference == reference)
    )
    assert receipt is not None
    reversal = {"path_parameters": {"receipt": receipt}, "body": {"reason": "x"}, "media_type": JSON}
    assert signer.call(reverse.Case(**reversal)) == 200
    assert signer.call(reverse.Case(**reversal)) == 409


def test_every_error_code_is_in_the_document() -> None:
    document = json.dumps(openapi_document())
    for code in [*STATUS_BY_CODE, *AUTH_CODES]:
        assert f'"{code}"' in document, code


def _codes(response: dict[str, Any]) -> list[str]:
    schema = response["content"]["application/json"]["schema"]
    return list(schema["properties"]["error"]["properties"]["code"]["enum"])


def test_each_code_is_documented_under_its_status() -> None:
    document = openapi_document()
    documented: dict[str, set[int]] = {}
    for operations in document["paths"].values():
        for operation in operations.values():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    for code in _codes(response):
                        documented.setdefault(code, set()).add(int(status))
    for code, status in STATUS_BY_CODE.items():
        assert documented.get(code) == {status}, code


def test_the_document_is_served_unsigned(app: Flask, db_session: Session) -> None:
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.get_json() == openapi_document()
