"""RNA registration requests: made from a phone, sent to the region's chamber of crafts,
decided by staff on /ops (registered: the artisan is created or found and the phone
linked; rejected with a reason). Services flush; the edges commit."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gateway.cashpoints.service import commune_provinces
from gateway.logs import mask_phone
from gateway.races import add_unless_taken
from gateway.sms.outbox import MAX_SEGMENTS, queue_sms, render, segments
from menus.i18n import N_
from menus.trades import BY_CODE
from models import Artisan, Chamber, PhoneLink, RegistrationRequest

log = logging.getLogger(__name__)
Clock = Callable[[], dt.datetime]
REASON_LENGTH = 60  # the rejection SMS must stay within two segments in Arabic


class RequestError(Exception):
    """A staff action refused; `message` is a catalogue text the dashboard shows in its
    language, filled with `values`."""

    def __init__(self, message: str, **values: object) -> None:
        super().__init__(message.format(**values))
        self.message = message
        self.values = values


@dataclass(frozen=True)
class Submitted:
    """What a confirm did: `request` made now, or `open_since` an open one of the phone or
    the CIN (which of the two is not said: it would tell whose CIN is waiting)."""

    request: RegistrationRequest | None
    open_since: dt.datetime | None = None


def request_number(request: RegistrationRequest) -> str:
    # Digits only: one run that reads the same in Arabic and French text.
    return f"{request.id:06d}"


def open_request(db: Session, *, phone: str | None = None, cin: str | None = None) -> RegistrationRequest | None:
    query = select(RegistrationRequest).where(RegistrationRequest.status == "open")
    if phone is not None:
        query = query.where(RegistrationRequest.phone == phone)
    if cin is not None:
        query = query.where(RegistrationRequest.cin == cin)
    return db.scalars(query.limit(1)).first()


def chamber_of(db: Session, region_code: str) -> Chamber | None:
    return db.scalar(select(Chamber).where(Chamber.region_code == region_code, Chamber.active.is_(True)))


def received_sms_values(chamber: Chamber | None, language: str, number: str) -> dict[str, str]:
    """The chamber's part of the `rna_request_received` SMS, shortened until the message
    holds in MAX_SEGMENTS: the address first (its phone is what must get through)."""
    if chamber is None:
        # No chamber imported for the region: the ministry's switchboard answers.
        name = "وزارة الصناعة التقليدية" if language == "ar" else "Ministère de l'Artisanat"
        values = {"chamber": name, "address": "Rabat", "phone": "0537000000"}
    else:
        name = chamber.name_ar if language == "ar" else chamber.name_fr
        values = {"chamber": name, "address": chamber.address, "phone": chamber.phone}

    def fits() -> bool:
        text = render("rna_request_received", language, number=number, **values)
        return segments(text)[0] <= MAX_SEGMENTS

    for field in ("address", "chamber"):
        while not fits() and values[field]:
            values[field] = values[field][:-2].rstrip() + "…" if len(values[field]) > 1 else ""
    return values


def submit_request(
    db: Session,
    *,
    phone: str,
    cin: str,
    birth_year: int,
    trade: str,
    commune_code: str,
    language: str,
    clock: Clock,
) -> Submitted:
    """Store an open request and queue its SMS, or say since when one is open for this
    phone or this CIN. The partial unique indexes settle racing confirms: the loser
    reads the winner's request."""
    province_code = commune_provinces().get(commune_code)
    if province_code is None or trade not in BY_CODE:
        raise ValueError("unknown commune or trade")
    region_code = province_code.split(".", 1)[0]
    existing = open_request(db, phone=phone) or open_request(db, cin=cin)
    if existing is not None:
        return Submitted(None, existing.created_at)
    request = RegistrationRequest(
        phone=phone,
        cin=cin,
        birth_year=birth_year,
        trade=trade,
        region_code=region_code,
        province_code=province_code,
        commune_code=commune_code,
        language=language,
        status="open",
        created_at=clock(),
    )
    request, created = add_unless_taken(
        db, request, taken=lambda: open_request(db, phone=phone) or open_request(db, cin=cin)
    )
    if not created:
        return Submitted(None, request.created_at)
    number = request_number(request)
    chamber = received_sms_values(chamber_of(db, region_code), language, number)
    queue_sms(
        db,
        recipient=phone,
        language=language,
        template="rna_request_received",
        subject=f"rna_request:{request.id}",
        number=number,
        chamber=chamber["chamber"],
        address=chamber["address"],
        phone=chamber["phone"],
    )
    db.flush()
    log.info("registration request stored", extra={"phone": mask_phone(phone), "request": request.id})
    return Submitted(request)


def _decide(
    db: Session, *, request_id: int, status: str, by: str, clock: Clock, **values: object
) -> RegistrationRequest:
    """Move an open request to `status`, compare-and-set: of two staff deciding at once,
    one does and the other is told it is decided already."""
    if not by.strip():
        raise RequestError(N_("say who decides"))
    moved = db.scalar(
        update(RegistrationRequest)
        .where(RegistrationRequest.id == request_id, RegistrationRequest.status == "open")
        .values(status=status, decided_at=clock(), decided_by=by.strip()[:80], **values)
        .returning(RegistrationRequest.id)
        .execution_options(synchronize_session=False)
    )
    if moved is None:
        raise RequestError(N_("this request is decided already, or does not exist"))
    request = db.get(RegistrationRequest, request_id)
    assert request is not None
    db.refresh(request)
    return request


def register_request(
    db: Session,
    *,
    request_id: int,
    first_name: str,
    last_name: str,
    rna_number: str,
    by: str,
    clock: Clock,
    service_code: str,
) -> RegistrationRequest:
    """Mark a request registered with its RNA number: the artisan of that RNA number or
    CIN is found (both must be the same file) or created from the request, the phone is
    linked by staff (no relink cooldown: staff saw the person) unless another file holds
    it, and the artisan is told by SMS. Raises RequestError."""
    first_name, last_name, rna_number = first_name.strip(), last_name.strip(), rna_number.strip()
    if not (first_name and last_name and rna_number) or max(len(first_name), len(last_name)) > 80:
        raise RequestError(N_("first name, last name (80 characters at most) and RNA number are required"))
    if len(rna_number) > 32:
        raise RequestError(N_("an RNA number has 32 characters at most"))
    pending = db.get(RegistrationRequest, request_id)
    if pending is None or pending.status != "open":
        raise RequestError(N_("this request is decided already, or does not exist"))
    by_number = db.scalar(select(Artisan).where(Artisan.rna_number == rna_number))
    by_cin = db.scalar(select(Artisan).where(Artisan.cin == pending.cin))
    if by_number is not None and by_number.cin != pending.cin:
        raise RequestError(N_("this RNA number belongs to another CIN's file"))
    if by_cin is not None and by_cin.rna_number != rna_number:
        raise RequestError(N_("this CIN's file has another RNA number"))
    now = clock()
    artisan = by_number or by_cin
    if artisan is None:
        artisan = Artisan(
            rna_number=rna_number,
            cin=pending.cin,
            first_name=first_name,
            last_name=last_name,
            birth_year=pending.birth_year,
            trade=pending.trade,
            province_code=pending.province_code,
            commune_code=pending.commune_code,
            language=pending.language,
            rna_status="registered",
            amo_status="not_registered",
            created_at=now,
        )
        db.add(artisan)
        db.flush()
    request = _decide(db, request_id=request_id, status="registered", by=by, clock=clock, artisan_id=artisan.id)
    holder = db.scalar(select(Artisan.id).where(Artisan.phone == request.phone))
    if holder is None and artisan.phone != request.phone:
        artisan.phone = request.phone
        db.add(PhoneLink(phone=request.phone, artisan_id=artisan.id, method="staff", linked_at=now))
    db.flush()
    queue_sms(
        db,
        recipient=request.phone,
        language=request.language,
        template="rna_request_registered",
        subject=f"rna_request:{request.id}",
        rna=rna_number,
        code=service_code,
    )
    db.flush()
    log.info("registration request registered", extra={"request": request.id, "artisan_id": artisan.id, "staff": by})
    return request


def reject_request(db: Session, *, request_id: int, reason: str, by: str, clock: Clock) -> RegistrationRequest:
    """Mark a request rejected with a reason, told to the artisan by SMS. Raises RequestError."""
    reason = " ".join(reason.split())
    if not reason or len(reason) > REASON_LENGTH:
        raise RequestError(N_("a reason of 1 to {n} characters is required"), n=REASON_LENGTH)
    request = _decide(db, request_id=request_id, status="rejected", by=by, clock=clock, reason=reason)
    number = request_number(request)
    told = reason  # shortened for the SMS only when it would not hold in its segments
    while (
        told
        and segments(render("rna_request_rejected", request.language, number=number, reason=told))[0] > MAX_SEGMENTS
    ):
        told = told[:-2].rstrip() + "…"
    queue_sms(
        db,
        recipient=request.phone,
        language=request.language,
        template="rna_request_rejected",
        subject=f"rna_request:{request.id}",
        number=number,
        reason=told,
    )
    db.flush()
    log.info("registration request rejected", extra={"request": request.id, "staff": by})
    return request


def open_requests(db: Session, *, region_code: str | None = None) -> list[RegistrationRequest]:
    """Open requests, oldest first (of one region, or all)."""
    query = select(RegistrationRequest).where(RegistrationRequest.status == "open")
    if region_code:
        query = query.where(RegistrationRequest.region_code == region_code)
    return list(db.scalars(query.order_by(RegistrationRequest.created_at, RegistrationRequest.id)))


@dataclass(frozen=True)
class RegionFigures:
    region_code: str
    today: int
    last_30_days: int
    open: int
    oldest_open: dt.datetime | None


def figures(db: Session, *, since_today: dt.datetime, since_30_days: dt.datetime) -> list[RegionFigures]:
    """Per region: requests made today and in the last 30 days, open ones and the oldest
    open one. One GROUP BY."""
    r = RegistrationRequest
    is_open = r.status == "open"
    rows = db.execute(
        select(
            r.region_code,
            func.count().filter(r.created_at >= since_today),
            func.count().filter(r.created_at >= since_30_days),
            func.count().filter(is_open),
            func.min(r.created_at).filter(is_open),
        )
        .where((r.created_at >= since_30_days) | is_open)
        .group_by(r.region_code)
        .order_by(r.region_code)
    ).all()
    return [
        RegionFigures(
            region_code=code,
            today=int(today),
            last_30_days=int(month),
            open=int(waiting),
            oldest_open=_aware(oldest),
        )
        for code, today, month, waiting, oldest in rows
    ]


def _aware(value: dt.datetime | str | None) -> dt.datetime | None:
    # An aggregate loses the column's type on SQLite: the UTC it stored comes back naive or as text.
    if value is None:
        return None
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
