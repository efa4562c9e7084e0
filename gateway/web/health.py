"""Liveness, readiness and metrics."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify
from sqlalchemy import text

from gateway.db import get_db
from gateway.metrics import render_metrics
from gateway.wiring import hirfa

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    checks: dict[str, str] = {}
    try:
        get_db().execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception:
        log.warning("readiness: database unavailable", exc_info=True)
        checks["database"] = "unavailable"
    try:
        hirfa().redis.ping()
        checks["redis"] = "ok"
    except Exception:
        log.warning("readiness: redis unavailable", exc_info=True)
        checks["redis"] = "unavailable"
    ready = all(value == "ok" for value in checks.values())
    return jsonify(status="ready" if ready else "unavailable", checks=checks), 200 if ready else 503


@bp.get("/metrics")
def metrics() -> Response:
    return Response(render_metrics(), content_type="text/plain; version=0.0.4; charset=utf-8")
