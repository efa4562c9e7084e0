"""Help requests (option 5): stored, confirmed by SMS, listed and closed by staff."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.races import add_unless_taken
from gateway.sms.outbox import queue_sms
from models import Artisan, HelpRequest
from models.help import HELP_KINDS

Clock = Callable[[], dt.datetime]

TEMPLATE_BY_KIND = {
    "advisor_callback": "help_advisor",
    "export_support": "help_export",
    "chamber_contact": "help_chamber",
}

# PLACEHOLDER contacts for the demo, by region (the first two digits of the province
# code): to be replaced by the chambers' real numbers before any production use.
CHAMBER_CONTACTS = {
    "01": "Chambre d'artisanat de Tanger-Tetouan-Al Hoceima, 05 39 00 00 00",
    "02": "Chambre d'artisanat de l'Oriental, 05 36 00 00 00",
    "03": "Chambre d'artisanat de Fes-Meknes, 05 35 00 00 00",
    "04": "Chambre d'artisanat de Rabat-Sale-Kenitra, 05 37 00 00 00",
    "05": "Chambre d'artisanat de Beni Mellal-Khenifra, 05 23 00 00 00",
    "06": "Chambre d'artisanat de Casablanca-Settat, 05 22 00 00 00",
    "07": "Chambre d'artisanat de Marrakech-Safi, 05 24 00 00 00",
    "08": "Chambre d'artisanat de Draa-Tafilalet, 05 35 00 00 01",
    "09": "Chambre d'artisanat de Souss-Massa, 05 28 00 00 00",
    "10": "Chambre d'artisanat de Guelmim-Oued Noun, 05 28 00 00 01",
    "11": "Chambre d'artisanat de Laayoune-Sakia El Hamra, 05 28 00 00 02",
    "12": "Chambre d'artisanat de Dakhla-Oued Ed-Dahab, 05 28 00 00 03",
}
DEFAULT_CHAMBER_CONTACT = "Ministere de l'Artisanat, 05 37 00 00 00"


class HelpError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def chamber_contact(province_code: str) -> str:
    return CHAMBER_CONTACTS.get(province_code.split(".", 1)[0], DEFAULT_CHAMBER_CONTACT)


def open_request(db: Session, *, artisan_id: int, kind: str) -> HelpRequest | None:
    return db.scalar(
        select(HelpRequest).where(
            HelpRequest.artisan_id == artisan_id, HelpRequest.kind == kind, HelpRequest.status == "open"
        )
    )


def request_help(
    db: Session, *, artisan_id: int, kind: str, clock: Clock, default_language: str
) -> tuple[HelpRequest, bool]:
    """The artisan's open request of `kind`, made now (True) or already there (False).

    A new request queues its confirmation SMS in the same transaction; an existing
    one queues nothing. The partial unique index settles two hops racing."""
    if kind not in HELP_KINDS:
        raise ValueError(f"unknown help request kind {kind!r}")
    existing = open_request(db, artisan_id=artisan_id, kind=kind)
    if existing is not None:
        return existing, False
    artisan = db.get(Artisan, artisan_id)
    if artisan is None:
        raise HelpError(f"no artisan {artisan_id}")
    request = HelpRequest(artisan_id=artisan_id, kind=kind, status="open", created_at=clock())
    request, created = add_unless_taken(db, request, taken=lambda: open_request(db, artisan_id=artisan_id, kind=kind))
    if not created:
        return request, False
    if artisan.phone:
        # Only `help_chamber` shows the contact; the other templates leave it out.
        queue_sms(
            db,
            recipient=artisan.phone,
            language=artisan.language or default_language,
            template=TEMPLATE_BY_KIND[kind],
            subject=f"help:{request.id}",
            contact=chamber_contact(artisan.province_code),
        )
    db.flush()
    return request, True


def close_request(db: Session, *, request_id: int, by: str, clock: Clock) -> HelpRequest:
    """Close an open request; raises HelpError when there is none or it is closed already."""
    request = db.scalar(select(HelpRequest).where(HelpRequest.id == request_id).with_for_update())
    if request is None:
        raise HelpError(f"no help request {request_id}")
    if request.status != "open":
        raise HelpError(f"help request {request_id} is already closed")
    if not by.strip():
        raise HelpError("say who closes the request")
    request.status = "closed"
    request.closed_at = clock()
    request.closed_by = by.strip()[:80]
    db.flush()
    return request


def list_requests(db: Session, *, status: str | None = None, kind: str | None = None) -> list[tuple[HelpRequest, str]]:
    """Requests (oldest first) with the artisan's phone ('' when none)."""
    query = select(HelpRequest, Artisan.phone).join(Artisan, Artisan.id == HelpRequest.artisan_id)
    if status is not None:
        query = query.where(HelpRequest.status == status)
    if kind is not None:
        query = query.where(HelpRequest.kind == kind)
    rows = db.execute(query.order_by(HelpRequest.created_at, HelpRequest.id)).all()
    return [(request, phone or "") for request, phone in rows]
