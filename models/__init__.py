"""SQLAlchemy 2 models of Hirfa. No Flask here; services flush, the edges commit."""

from models.artisan import Artisan
from models.banks import BankLead
from models.base import Base, UTCDateTime, utcnow
from models.calls import CallOutbox
from models.contribution import ContributionAmount, ContributionCategory
from models.help import HelpRequest
from models.identification import IdentificationAttempt, IdentificationCounter, PhoneLink, PhonePreference
from models.payments import Agent, CashPoint, PaidMonth, PartnerKey, Payment, PaymentReference
from models.registration import Chamber, RegistrationRequest
from models.reimbursements import ReimbursementClaim
from models.sms import OutboxMessage, OutboxPart, SmsReminder
from models.staff import StaffMember
from models.ussd import UssdSessionOutcome

__all__ = [
    "Agent",
    "Artisan",
    "BankLead",
    "Base",
    "CallOutbox",
    "CashPoint",
    "Chamber",
    "ContributionAmount",
    "ContributionCategory",
    "HelpRequest",
    "IdentificationAttempt",
    "IdentificationCounter",
    "OutboxMessage",
    "OutboxPart",
    "PaidMonth",
    "PartnerKey",
    "Payment",
    "PaymentReference",
    "PhoneLink",
    "PhonePreference",
    "RegistrationRequest",
    "ReimbursementClaim",
    "SmsReminder",
    "StaffMember",
    "UTCDateTime",
    "UssdSessionOutcome",
    "utcnow",
]
