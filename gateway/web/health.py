"""Liveness, readiness and metrics."""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import text

from gateway.config import Settings
from gateway.db import get_db
from gateway.metrics import render_metrics
from gateway.web.auth import client_within
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


def _may_read_metrics(settings: Settings) -> bool:
    """Open when neither METRICS_TOKEN nor METRICS_ALLOWED_IPS is set (development only:
    production refuses to start so); otherwise the bearer token or an allowed address."""
    if not (settings.metrics_token or settings.metrics_allowed_ips):
        return not settings.is_production
    if settings.metrics_token:
        given = request.headers.get("Authorization", "").encode()
        if hmac.compare_digest(given, f"Bearer {settings.metrics_token}".encode()):
            return True
    return bool(settings.metrics_allowed_ips) and client_within(settings.metrics_allowed_ips, request.remote_addr)


@bp.get("/metrics")
def metrics() -> Response:
    if not _may_read_metrics(hirfa().settings):
        response = jsonify(error={"code": "unauthorized", "message": "Bearer METRICS_TOKEN, or an allowed address."})
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return Response(render_metrics(), content_type="text/plain; version=0.0.4; charset=utf-8")
