"""Queue an SMS as an outbox row in the caller's transaction (sent after commit)."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from gateway.logs import mask_phone
from menus.i18n import N_, Translator
from menus.paging import GSM7_EXTENSION, is_gsm7
from models import OutboxMessage

log = logging.getLogger(__name__)

MAX_SEGMENTS = 2

TEMPLATES = {
    "rna_registration_help": N_(
        "Hirfa: to join the national register of handicrafts (RNA), go with your CIN to the "
        "chamber of crafts of your province. Registration opens the way to AMO."
    ),
    "phone_linked": N_("Hirfa: this phone is now linked to your artisan file. Dial {code} to see your AMO."),
    "payment_reference": N_(
        "Hirfa: reference {reference} for AMO {months}: {amount}. Pay in cash at {network} before {expires}."
    ),
    "payment_receipt": N_("Hirfa: payment received, receipt {receipt}. AMO {months}: {amount}. Thank you."),
    "agent_receipt": N_("Hirfa: payment {reference} recorded, receipt {receipt}, {amount}."),
    "payment_reversed": N_("Hirfa: payment {receipt} of {amount} was cancelled. These months are due again."),
    "phone_unlinked": N_(
        "Hirfa: your artisan file was linked to a new phone ending {tail}. "
        "If it was not you, call your chamber of crafts."
    ),
    # Reimbursements of medical costs: one per status (gateway.reimbursements.service).
    "claim_received": N_(
        "Hirfa: your claim {claim} for reimbursement of medical costs ({amount}) was received. "
        "We will tell you by SMS when it is ready."
    ),
    "claim_in_review": N_("Hirfa: your reimbursement claim {claim} ({amount}) is being reviewed."),
    "claim_approved": N_(
        "Hirfa: your reimbursement claim {claim} is approved: {amount}. You will get the pick-up code by SMS."
    ),
    "claim_available": N_(
        "Hirfa: your reimbursement of {amount} is ready at {network}. "
        "Pick-up code {code}, with your CIN, before {until}."
    ),
    "claim_available_later": N_(
        "Hirfa: your reimbursement of {amount} is ready at {network} until {until}. "
        "This phone is newly linked: its pick-up code shows from {when}, in menu 3."
    ),
    "claim_paid_out": N_("Hirfa: your reimbursement {claim} of {amount} was paid out. Thank you."),
    "claim_rejected": N_("Hirfa: your reimbursement claim {claim} ({amount}) was rejected. Reason: {reason}"),
    # Monthly dues reminder and the answers to STOP / START (gateway.sms.reminders, gateway.sms.service).
    "dues_reminder": N_(
        "Hirfa: you owe AMO contributions for {months}: {amount}. To pay, dial {code} and choose 2. "
        "Send STOP to stop these reminders."
    ),
    "sms_stopped": N_("Hirfa: you will no longer receive AMO reminders by SMS. Send START to receive them again."),
    "sms_started": N_("Hirfa: you will receive AMO reminders by SMS again. Send STOP to stop them."),
    # Help requests of option 5 (gateway.help.service).
    "help_advisor": N_("Hirfa: your request is recorded. An advisor of Dar Al Moukawil will call you back."),
    "help_export": N_("Hirfa: your export support request is recorded. We will contact you."),
    "help_chamber": N_("Hirfa: your chamber of crafts: {contact}"),
    # Bank-account requests of option 5 (gateway.banks.service).
    "bank_lead": N_(
        "Hirfa: your request for an account at {bank} is recorded. The bank will contact you; "
        "it gets your name, phone, CIN and commune."
    ),
    "bank_account_opened": N_("Hirfa: {bank} tells us your account is open. Thank you."),
    # RNA registration requests (gateway.registration.requests).
    "rna_request_received": N_(
        "Hirfa: request {number} recorded. Bring your CIN and a proof of your craft to {chamber}: {address}, {phone}"
    ),
    "rna_request_registered": N_("Hirfa: you are registered in the RNA, no. {rna}. Dial {code} to pay AMO."),
    "rna_request_rejected": N_("Hirfa: your RNA registration request {number} was refused. Reason: {reason}"),
    # The cash points of a province, asked for in option 4 (gateway.cashpoints.menu_ports).
    "cash_points": N_("Hirfa: cash points in {province}: {points}"),
}


def segments(text: str) -> tuple[int, str]:
    """How many SMS segments `text` takes, and the encoding it needs."""
    if is_gsm7(text):
        septets = sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)  # escape + character
        return (1 if septets <= 160 else -(-septets // 153)), "gsm7"
    units = len(text.encode("utf-16-le")) // 2  # a character beyond the BMP takes two
    return (1 if units <= 70 else -(-units // 67)), "ucs2"


def render(template: str, language: str, **values: object) -> str:
    return Translator(language)(TEMPLATES[template], **values)


def queue_sms(
    db: Session,
    *,
    recipient: str,
    language: str,
    template: str,
    subject: str | None = None,
    urgent: bool = False,
    **values: object,
) -> OutboxMessage:
    """Add the message to the outbox; it leaves with the transaction's commit.

    `subject` names what it is about (to count or dedupe); `urgent` lets it through
    quiet hours (a reference or receipt the artisan is waiting for at the counter)."""
    body = render(template, language, **values)
    count, encoding = segments(body)
    if count > MAX_SEGMENTS:
        raise ValueError(f"SMS {template!r} in {language!r} takes {count} segments")
    message = OutboxMessage(
        recipient=recipient,
        language=language,
        template=template,
        body=body,
        segments=count,
        encoding=encoding,
        state="pending",
        attempts=0,
        subject=subject,
        urgent=urgent,
        possible_duplicate=False,
    )
    db.add(message)
    log.info("sms queued", extra={"template": template, "recipient": mask_phone(recipient)})
    return message
