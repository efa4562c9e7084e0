"""RNA registration requests on /ops: open ones by region and age (oldest first), marked
`registered` (first and last name as on the CIN, and the RNA number the chamber gave:
the USSD flow asks no name) or `rejected` with a reason; figures and a CSV export.

Same staff session, CSRF and headers as the rest of /ops (gateway.web.ops)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from gateway.cashpoints import service as places
from gateway.db import get_db, rollback
from gateway.logs import mask_phone
from gateway.ops import stats
from gateway.registration import requests as service
from gateway.web import ops
from gateway.wiring import hirfa
from menus.i18n import N_, Translator
from menus.trades import trade_name
from menus.typed import mask_tail
from models import RegistrationRequest

log = logging.getLogger(__name__)
bp = Blueprint("ops_rna", __name__, url_prefix="/ops/registrations", template_folder="templates")
bp.before_request(ops.guard)
bp.after_request(ops.secure_headers)
bp.context_processor(ops.template_helpers)
ROWS_SHOWN = 100


def region_name(code: str, language: str) -> str:
    region = next((area for area in places.regions() if area.code == code), None)
    return region.name(language) if region is not None else code


def _row(req: RegistrationRequest, language: str) -> dict[str, Any]:
    commune = places.commune(req.commune_code)
    return {
        "id": req.id,
        "number": service.request_number(req),
        "region": region_name(req.region_code, language),
        "commune": commune.name(language) if commune else req.commune_code,
        "trade": trade_name(req.trade, language),
        "phone": mask_phone(req.phone),
        "cin": mask_tail(req.cin),
        "birth_year": req.birth_year,
        "created": ops._local(req.created_at),
        "age_days": (hirfa().clock() - req.created_at).days,
    }


@bp.get("/")
def page() -> str:
    language = ops.language()
    region = request.args.get("region", "")
    region = region if region in {area.code for area in places.regions()} else ""
    pending = service.open_requests(get_db(), region_code=region or None)
    return render_template(
        "ops/registrations.html",
        region=region,
        regions=[(area.code, area.name(language)) for area in places.regions()],
        figures=[
            (region_name(row.region_code, language), row)
            for row in stats.registration_requests(get_db(), hirfa().clock())
        ],
        rows=[_row(req, language) for req in pending[:ROWS_SHOWN]],
        total=len(pending),
        reason_length=service.REASON_LENGTH,
        now=hirfa().clock(),
    )


def _back() -> BaseResponse:
    region = request.form.get("region", "")
    return redirect(url_for("ops_rna.page", region=region) if region.isdigit() else url_for("ops_rna.page"), code=303)


@bp.post("/<int:request_id>/register")
def register(request_id: int) -> BaseResponse:
    t = Translator(ops.language())
    db = get_db()
    try:
        service.register_request(
            db,
            request_id=request_id,
            first_name=request.form.get("first_name", "")[:200],
            last_name=request.form.get("last_name", "")[:200],
            rna_number=request.form.get("rna_number", "")[:200],
            by=g.staff.username,
            clock=hirfa().clock,
            service_code=hirfa().settings.short_code,
        )
    except service.RequestError as err:
        rollback()
        flash(t(N_("Not done:")) + " " + t(err.message, **err.values) + ".", "error")
        return _back()
    db.commit()
    log.info("registration request registered from the dashboard", extra={"staff": g.staff.username})
    flash(t(N_("Request {number} registered; the artisan is told by SMS."), number=f"{request_id:06d}"), "ok")
    return _back()


@bp.post("/<int:request_id>/reject")
def reject(request_id: int) -> BaseResponse:
    t = Translator(ops.language())
    db = get_db()
    try:
        reason = request.form.get("reason", "")[:200]
        service.reject_request(db, request_id=request_id, reason=reason, by=g.staff.username, clock=hirfa().clock)
    except service.RequestError as err:
        rollback()
        flash(t(N_("Not done:")) + " " + t(err.message, **err.values) + ".", "error")
        return _back()
    db.commit()
    flash(t(N_("Request {number} rejected; the artisan is told by SMS."), number=f"{request_id:06d}"), "ok")
    return _back()


@bp.get("/export.csv")
def export() -> Response:
    """Every open request, oldest first; phones and CINs masked."""
    columns = ("number", "region", "commune", "trade", "phone", "cin", "created", "age_days")
    rows = [[row[name] for name in columns] for row in (_row(req, "fr") for req in service.open_requests(get_db()))]
    log.info("ops export", extra={"staff": g.staff.username, "dataset": "registration-requests"})
    return ops._csv(
        "hirfa-registration-requests.csv",
        ["number", "region", "commune", "trade", "phone", "cin", "created_morocco_time", "age_days"],
        rows,
    )
