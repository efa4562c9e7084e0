"""The partner API, `/api/v1`: signed JSON for the cash networks' counter systems, for
the reimbursement feed (CNSS or the paying bank) and for the partner banks' leads.

Each view checks the signature, parses strictly, calls the payment or reimbursement
service, commits, and renders. Refusals are JSON `{"error": {"code", "message"}}` with
the status that STATUS_BY_CODE gives their code; the document at /api/v1/openapi.json
lists them."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from flask import Blueprint, Response, jsonify, request
from redis import RedisError
from sqlalchemy.exc import OperationalError

from gateway.banks import service as banks
from gateway.clock import add_months
from gateway.db import get_db, rollback
from gateway.errors import Refusal
from gateway.logs import mask_name
from gateway.partners.signing import (
    AUTH_CODES,
    KEY_HEADER,
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    body_digest,
    verify,
)
from gateway.payments.service import PaymentService
from gateway.ratelimit import Limit
from gateway.reimbursements.service import parse_date, upsert_claim
from gateway.web.openapi import (
    AGENT_CODE_MAX,
    AMOUNT_MAX,
    API_PREFIX,
    IDENTIFIER_PATTERN,
    INTERNAL,
    LEAD_ID_PATTERN,
    REASON_MAX,
    RECEIPT_PATTERN,
    REFERENCE_PATTERN,
    TEXT_PATTERN,
    TXN_ID_MAX,
    UNAVAILABLE,
    openapi_document,
)
from gateway.wiring import hirfa
from models import Artisan, BankLead, PartnerKey, Payment, PaymentReference, ReimbursementClaim
from models.banks import LEAD_STATUSES

log = logging.getLogger(__name__)
bp = Blueprint("api", __name__, url_prefix=API_PREFIX)

CURRENCY = "MAD"
# What a path segment may hold unencoded (RFC 3986 pchar, and `/`).
PATH_SAFE = "/:@!$&'()*+,;=-._~"
STATUS_BY_CODE: dict[str, int] = {
    **dict.fromkeys(AUTH_CODES, 401),
    "invalid_json": 400,
    "duplicate_key": 400,
    "invalid_field": 400,
    "wrong_partner": 403,
    "reference_not_found": 404,
    "payment_not_found": 404,
    "artisan_not_found": 404,
    "reference_paid": 409,
    "reference_cancelled": 409,
    "reference_expired": 409,
    "months_already_paid": 409,
    "txn_conflict": 409,
    "already_reversed": 409,
    "claim_artisan_mismatch": 409,
    "lead_not_found": 404,
    "lead_status_conflict": 409,
    "reason_required": 422,
    "amount_mismatch": 422,
    "invalid_agent": 422,
    "invalid_paid_at": 422,
    "invalid_reference": 422,
    "reversal_too_late": 422,
    "inconsistent_fields": 422,
    "artisan_ambiguous": 422,
    "rate_limited": 429,
}

REFERENCE_RE = re.compile(REFERENCE_PATTERN)
RECEIPT_RE = re.compile(RECEIPT_PATTERN)
IDENTIFIER_RE = re.compile(IDENTIFIER_PATTERN)
TEXT_RE = re.compile(TEXT_PATTERN)
RFC3339_RE = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[Tt](?P<time>[0-9]{2}:[0-9]{2}:[0-9]{2})"
    r"(?P<fraction>\.[0-9]+)?(?P<offset>[Zz]|[+-][0-9]{2}:[0-9]{2})"
)
PAYMENT_FIELDS = frozenset({"reference", "amount_centimes", "network_txn_id", "agent_code", "paid_at"})
REVERSAL_FIELDS = frozenset({"reason"})
CLAIM_FIELDS = frozenset({"amount_centimes", "status"})
CLAIM_OPTIONAL_FIELDS = frozenset({"cin", "cnss_number", "network", "pick_up_code", "available_until", "reason"})
LEAD_STATUS_FIELDS = frozenset({"status"})
LEAD_STATUS_OPTIONAL_FIELDS = frozenset({"reason"})
LEAD_ID_RE = re.compile(LEAD_ID_PATTERN)
LIST_PARAMETERS = frozenset({"status", "after", "limit"})


@dataclass(frozen=True)
class NetworkCaller:
    """Who signed the request: a cash network's key."""

    partner_key_id: int
    network: str


# Views ---------------------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())


@bp.get("/references/<reference>")
def get_reference(reference: str) -> Response:
    caller = _network_caller()
    _reference_field(reference, "reference")
    service = _service()
    row = service.find_reference(reference, network=caller.network)
    artisan = get_db().get(Artisan, row.artisan_id)
    assert artisan is not None  # a foreign key
    return jsonify(
        reference=row.reference,
        amount_centimes=row.amount_centimes,
        currency=CURRENCY,
        months=[f"{add_months(row.first_month, index):%Y-%m}" for index in range(row.month_count)],
        status=service.reference_state(row),
        expires_at=_iso(row.expires_at),
        artisan_name=mask_name(artisan.first_name, artisan.last_name),
    )


@bp.post("/payments")
def post_payment() -> tuple[Response, int]:
    caller = _network_caller()
    body = _json_object(PAYMENT_FIELDS)
    reference = _reference_field(body["reference"], "reference")
    amount = _amount_field(body["amount_centimes"], "amount_centimes")
    network_txn_id = _identifier_field(body["network_txn_id"], "network_txn_id", TXN_ID_MAX)
    agent_code = _identifier_field(body["agent_code"], "agent_code", AGENT_CODE_MAX)
    paid_at = _paid_at_field(body["paid_at"])
    confirmation = _service().confirm(
        reference=reference,
        network=caller.network,
        partner_key_id=caller.partner_key_id,
        agent_code=agent_code,
        amount_centimes=amount,
        network_txn_id=network_txn_id,
        # The same id with other bytes is a conflict, even if they mean the same.
        request_digest=body_digest(request.get_data(cache=True)),
        paid_at=paid_at,
    )
    get_db().commit()
    return jsonify(_payment_body(confirmation.payment, confirmation.reference)), 201


@bp.post("/payments/<receipt>/reversal")
def reverse_payment(receipt: str) -> Response:
    caller = _network_caller()
    if not RECEIPT_RE.fullmatch(receipt):
        raise Refusal("invalid_field", "a receipt number is WF or FC then 10 digits")
    body = _json_object(REVERSAL_FIELDS)
    reason = _text_field(body["reason"], "reason", REASON_MAX)
    payment = _service().reverse(receipt_number=receipt, network=caller.network, reason=reason)
    get_db().commit()
    assert payment.reversed_at is not None  # reverse() sets it
    return jsonify(receipt_number=payment.receipt_number, status="reversed", reversed_at=_iso(payment.reversed_at))


@bp.put("/reimbursements/<claim_number>")
def put_reimbursement(claim_number: str) -> tuple[Response, int]:
    _reimbursements_caller()
    body = _json_object(CLAIM_FIELDS, optional=CLAIM_OPTIONAL_FIELDS)
    text = {name: _optional_text(body.get(name), name) for name in CLAIM_OPTIONAL_FIELDS}
    amount = body["amount_centimes"]
    if not isinstance(amount, int) or isinstance(amount, bool):  # the service checks the range
        raise Refusal("invalid_field", "amount_centimes must be a whole number")
    status = body["status"]
    if not isinstance(status, str):
        raise Refusal("invalid_field", "status must be a string")
    until = text["available_until"]
    app = hirfa()
    # The service checks what the values hold, for this API and the CSV import alike.
    claim, _changed, created = upsert_claim(
        get_db(),
        claim_number=claim_number,
        cin=text["cin"],
        cnss_number=text["cnss_number"],
        amount_centimes=amount,
        status=status,
        network=text["network"],
        pick_up_code=text["pick_up_code"],
        available_until=parse_date(until, "available_until") if until is not None else None,
        reason=text["reason"],
        clock=app.clock,
        default_language=app.settings.default_language,
        calls_out=app.settings.calls_out,
    )
    get_db().commit()
    return jsonify(_claim_body(claim)), 201 if created else 200


@bp.get("/leads")
def list_leads() -> Response:
    bank = _bank_caller()
    unknown = sorted(request.args.keys() - LIST_PARAMETERS)
    if unknown:
        raise Refusal("invalid_field", f"unknown query parameters: {', '.join(unknown)[:200]}")
    status = request.args.get("status")
    if status is not None and status not in LEAD_STATUSES:
        raise Refusal("invalid_field", f"status must be one of {', '.join(LEAD_STATUSES)}")
    after = request.args.get("after")
    if after is not None and not LEAD_ID_RE.fullmatch(after):
        raise Refusal("invalid_field", "after must be the `next` of a previous page")
    limit = request.args.get("limit", str(banks.PAGE_DEFAULT))
    if not (limit.isascii() and limit.isdigit() and 1 <= int(limit) <= banks.PAGE_MAX):
        raise Refusal("invalid_field", f"limit must be a whole number from 1 to {banks.PAGE_MAX}")
    page, cursor = banks.list_leads(
        get_db(),
        bank=bank,
        status=status,
        after=int(after) if after is not None else None,
        limit=int(limit),
        clock=hirfa().clock,
    )
    body = {"leads": [_lead_body(lead, artisan) for lead, artisan in page], "next": _cursor(cursor)}
    get_db().commit()  # the leads are fetched now
    return jsonify(body)


@bp.post("/leads/<lead_id>/status")
def post_lead_status(lead_id: str) -> Response:
    bank = _bank_caller()
    if not LEAD_ID_RE.fullmatch(lead_id):
        raise Refusal("invalid_field", "a lead id is a whole number")
    body = _json_object(LEAD_STATUS_FIELDS, optional=LEAD_STATUS_OPTIONAL_FIELDS)
    status = body["status"]
    if not isinstance(status, str):
        raise Refusal("invalid_field", "status must be a string")
    reason = body.get("reason")
    if reason is not None:
        reason = _text_field(reason, "reason", REASON_MAX)
    app = hirfa()
    lead, _changed = banks.set_status(
        get_db(),
        bank=bank,
        lead_id=int(lead_id),
        status=status,
        reason=reason,
        clock=app.clock,
        default_language=app.settings.default_language,
    )
    artisan = get_db().get(Artisan, lead.artisan_id)
    assert artisan is not None  # a foreign key
    response = _lead_body(lead, artisan)
    get_db().commit()
    return jsonify(response)


# Refusals --------------------------------------------------------------------------------


@bp.errorhandler(Refusal)
def refused(error: Refusal) -> tuple[Response, int]:
    rollback()
    status = STATUS_BY_CODE.get(error.code)
    if status is None:
        # A refusal the API does not promise (say, no contribution amount for a month):
        # our data is wrong, not the partner's request.
        log.error("unexpected refusal in the partner API", extra={"code": error.code, "endpoint": request.endpoint})
        return _error(INTERNAL, "Something went wrong.", 500)
    log.info(
        "partner request refused",
        extra={"code": error.code, "endpoint": request.endpoint, "key_id": request.headers.get(KEY_HEADER, "")[:40]},
    )
    response, status = _error(error.code, error.message, status)
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    return response, status


@bp.errorhandler(RedisError)
@bp.errorhandler(OperationalError)
def unavailable(error: Exception) -> tuple[Response, int]:
    log.error("partner API: a backing service is unavailable", exc_info=error)
    rollback()
    return _error(UNAVAILABLE, "Service unavailable; retry later with a new signature.", 503)


def _error(code: str, message: str, status: int) -> tuple[Response, int]:
    return jsonify(error={"code": code, "message": message}), status


# Parsing ---------------------------------------------------------------------------------


def _network_caller() -> NetworkCaller:
    key = _signed_key()
    if key.kind != "network" or key.network is None:
        raise Refusal("wrong_partner", "this key is not a cash network's key")
    return NetworkCaller(partner_key_id=key.id, network=key.network)


def _bank_caller() -> str:
    key = _signed_key()
    if key.kind != "bank" or key.bank is None:
        raise Refusal("wrong_partner", "this key is not a bank's key")
    return key.bank


def _reimbursements_caller() -> PartnerKey:
    key = _signed_key()
    if key.kind != "reimbursements":
        raise Refusal("wrong_partner", "this key is not the reimbursement feed's key")
    return key


def _signed_key() -> PartnerKey:
    """The verified key of the request, within the limits per address (before the
    signature is checked: guessing costs too) and per key (after: nobody else can spend
    a partner's allowance)."""
    app = hirfa()
    _within("api-ip", request.remote_addr or "unknown", app.settings.api_requests_per_ip_per_minute)
    key = verify(
        db=get_db(),
        redis=app.redis,
        settings=app.settings,
        clock=app.clock,
        method=request.method,
        path=signed_path(request.environ),
        body=request.get_data(cache=True),
        key_id=request.headers.get(KEY_HEADER),
        timestamp=request.headers.get(TIMESTAMP_HEADER),
        nonce=request.headers.get(NONCE_HEADER),
        signature=request.headers.get(SIGNATURE_HEADER),
    )
    _within("api-key", str(key.id), app.settings.api_requests_per_key_per_minute)
    return key


def signed_path(environ: dict[str, Any]) -> str:
    """The PATH a partner signs: the path and `?query` (when not empty) as sent.

    The raw request target when the server gives it (gunicorn's RAW_URI, werkzeug's
    REQUEST_URI), so that the bytes signed are the bytes sent. Granian gives only the
    decoded PATH_INFO: quoting it again gives back what was sent whenever the client
    did not percent-encode what needs no encoding (this API's paths never need any).
    The query string is QUERY_STRING, which every server leaves as it was sent."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""
    if raw and not raw.startswith("/"):  # the absolute form, GET http://host/path HTTP/1.1
        raw = urlsplit(raw).path or "/"
    if raw:
        path = raw.partition("?")[0]
    else:
        decoded = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        path = quote(decoded.encode("latin-1", "replace"), safe=PATH_SAFE)
    # WSGI strings carry the bytes as latin-1; the string to sign is UTF-8.
    path = path.encode("latin-1", "replace").decode("utf-8", "replace")
    query = environ.get("QUERY_STRING", "").encode("latin-1", "replace").decode("utf-8", "replace")
    return f"{path}?{query}" if query else path


def _within(scope: str, who: str, per_minute: int) -> None:
    wait = hirfa().limiter.exceeded(scope, who, Limit(per_minute))
    if wait is not None:
        raise Refusal("rate_limited", f"Too many requests; retry in {wait} s.", retry_after=wait)


def _service() -> PaymentService:
    app = hirfa()
    return PaymentService(db=get_db(), settings=app.settings, clock=app.clock)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


class DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object whose names are all different: `{"amount_centimes": 1, "amount_centimes": 2}`
    means one thing to us and perhaps another to a proxy or log reader in front."""
    body: dict[str, Any] = {}
    for name, value in pairs:
        if name in body:
            raise DuplicateKey(name)
        body[name] = value
    return body


def _json_object(fields: frozenset[str], *, optional: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The body as a JSON object with every one of `fields`, and some of `optional`."""
    try:
        body = json.loads(request.get_data(cache=True), parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except DuplicateKey as duplicate:
        raise Refusal("duplicate_key", f"a name appears twice in an object: {str(duplicate)[:80]!r}") from None
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise Refusal("invalid_json", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise Refusal("invalid_json", "the body must be a JSON object")
    missing = sorted(fields - body.keys())
    if missing:
        raise Refusal("invalid_field", f"missing: {', '.join(missing)}")
    unknown = sorted(body.keys() - fields - optional)
    if unknown:
        raise Refusal("invalid_field", f"unknown fields: {', '.join(unknown)[:200]}")
    return body


def _reference_field(value: object, name: str) -> str:
    if not isinstance(value, str) or not REFERENCE_RE.fullmatch(value):
        raise Refusal("invalid_field", f"{name} must be 10 digits")
    return value


def _amount_field(value: object, name: str) -> int:
    # bool is an int in Python, and `true` is not an amount.
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= AMOUNT_MAX:
        raise Refusal("invalid_field", f"{name} must be a whole number from 1 to {AMOUNT_MAX}")
    return value


def _identifier_field(value: object, name: str, longest: int) -> str:
    if not isinstance(value, str) or len(value) > longest or not IDENTIFIER_RE.fullmatch(value):
        raise Refusal("invalid_field", f"{name} must be 1 to {longest} printable ASCII characters, no spaces")
    return value


def _text_field(value: object, name: str, longest: int) -> str:
    # Lone surrogates are valid in a JSON string but not in UTF-8, hence not in PostgreSQL.
    if (
        not isinstance(value, str)
        or len(value) > longest
        or not TEXT_RE.fullmatch(value)
        or any(unicodedata.category(char) == "Cs" for char in value)
    ):
        raise Refusal("invalid_field", f"{name} must be 1 to {longest} characters, no control characters")
    return value


def _optional_text(value: object, name: str) -> str | None:
    """A string or null (or absent); what the string may hold is the service's to check."""
    if value is not None and not isinstance(value, str):
        raise Refusal("invalid_field", f"{name} must be a string or null")
    return value


def _paid_at_field(value: object) -> dt.datetime:
    """The time, in UTC; whether it is recent enough is the payment service's rule (a
    replayed request gets its first answer even when its paid_at has aged since)."""
    message = "paid_at must be an RFC 3339 date-time with an offset"
    match = RFC3339_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise Refusal("invalid_field", message)
    fraction = (match["fraction"] or ".")[1:7].ljust(6, "0")
    offset = "+00:00" if match["offset"] in ("Z", "z") else match["offset"]
    try:
        paid_at = dt.datetime.fromisoformat(f"{match['date']}T{match['time']}.{fraction}{offset}").astimezone(dt.UTC)
    except (ValueError, OverflowError):  # 31 February, 24:00 offsets, year 1 shifted before year 1
        raise Refusal("invalid_field", message) from None
    return paid_at


# Rendering -------------------------------------------------------------------------------


def _iso(moment: dt.datetime) -> str:
    """RFC 3339 in UTC with a Z, to the second."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cursor(lead_id: int | None) -> str | None:
    return None if lead_id is None else str(lead_id)


def _lead_body(lead: BankLead, artisan: Artisan) -> dict[str, Any]:
    """What the artisan agreed to share with the bank, and the lead's state."""
    place = banks.commune(artisan.commune_code)
    return {
        "id": lead.id,
        "created_at": _iso(lead.created_at),
        "status": lead.status,
        "reason": lead.reason,
        "consent": {"version": lead.consent_version, "at": _iso(lead.consented_at)},
        "artisan": {
            "first_name": artisan.first_name,
            "last_name": artisan.last_name,
            "phone": artisan.phone,
            "cin": artisan.cin,
            "commune": {
                "code": artisan.commune_code,
                "name_fr": place.name_fr if place else None,
                "name_ar": place.name_ar if place else None,
            },
        },
    }


def _claim_body(claim: ReimbursementClaim) -> dict[str, Any]:
    return {
        "claim_number": claim.claim_number,
        "status": claim.status,
        "amount_centimes": claim.amount_centimes,
        "currency": CURRENCY,
        "network": claim.network,
        "pick_up_code": claim.pick_up_code,
        "available_until": claim.available_until.isoformat() if claim.available_until is not None else None,
        "reason": claim.reason,
        "status_changed_at": _iso(claim.status_changed_at),
    }


def _payment_body(payment: Payment, reference: PaymentReference) -> dict[str, Any]:
    return {
        "receipt_number": payment.receipt_number,
        "reference": reference.reference,
        "amount_centimes": payment.amount_centimes,
        "currency": CURRENCY,
        "network": payment.network,
        "paid_at": _iso(payment.paid_at),
        "status": "reversed" if payment.reversed_at is not None else "paid",
    }
