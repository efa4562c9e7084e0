"""Hirfa's Flask application: `create_app(settings)` wires every part once."""

from __future__ import annotations

import logging

from flask import Flask, Request, Response, jsonify
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from gateway import db, keyring
from gateway.calls_app import init_app as init_calls
from gateway.cashpoints.cli import cashpoints_cli
from gateway.cli import db_cli, demo_cli
from gateway.config import Settings, SettingsError
from gateway.demo import holds_demo_data
from gateway.help.cli import requests_cli
from gateway.logs import configure_logging
from gateway.ops.cli import staff_cli
from gateway.partners.cli import partners_cli
from gateway.payments.cli import agents_cli, payments_cli
from gateway.ratelimit import RateLimiter
from gateway.redis_client import make_redis
from gateway.registration.cli import chambers_cli, rna_cli
from gateway.reimbursements.cli import reimbursements_cli
from gateway.smpp_app import smpp_cli
from gateway.sms.cli import sms_cli
from gateway.sms_app import init_app as init_sms
from gateway.ussd.cli import ussd_cli
from gateway.ussd.store import RedisSessionStore
from gateway.voice.audio import PromptAudio
from gateway.voice.cli import voice_cli
from gateway.web import api, health, hop_wsgi, ops_registrations, simulator, sms, ussd, voice, voice_audio
from gateway.web import ops as ops_web
from gateway.web.auth import retry_after_header
from gateway.wiring import AUDIO_EXTENSION, EXTENSION, Hirfa

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 64 * 1024


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    settings.validate()
    configure_logging(settings.log_level)
    app = Flask(__name__)
    app.config.update(
        # The cookie's own key, never SECRET_KEY itself; cookies signed under a previous
        # secret still open while it sits in SECRET_KEY_FALLBACKS (Flask signs with the first).
        SECRET_KEY=keyring.cookie_key(settings),
        SECRET_KEY_FALLBACKS=keyring.cookie_fallback_keys(settings),
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        # Flask's signed session cookie carries the /ops login: never to scripts, never cross-site.
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_production,
    )
    hop_wsgi.install(app, MAX_BODY_BYTES)  # before ProxyFix: the hop reads the client it found
    register_proxy(app, settings)
    app.session_interface = SentCookieSessions()
    db.init_app(app, settings)
    register_services(app, settings)
    register_blueprints(app, settings)
    register_errors(app)
    register_cli(app)
    if settings.is_production:
        refuse_demo_data(app)
    announce(settings)
    return app


def refuse_demo_data(app: Flask) -> None:
    with app.app_context():
        try:
            found = holds_demo_data(db.get_db())
        except SQLAlchemyError:
            # Not reachable yet: /readyz reports it; the check runs again at the next start.
            log.warning("could not check the database for demo data", exc_info=True)
            return
    if found:
        db.dispose_engines(app)
        raise SettingsError(
            "DATABASE_URL: production refuses a database that holds demo data (artisans, staff login, "
            "active partner keys or agents not disabled, of `flask demo load`)"
        )


class SentCookieSessions(SecureCookieSessionInterface):
    """Flask opens the signed session cookie on every request, but only /ops uses it, and
    building its signer cost a USSD hop more than parsing the hop. A request without the
    cookie gets an empty session, saved (as a new cookie) only if something is put in it."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)


def register_proxy(app: Flask, settings: Settings) -> None:
    if settings.trusted_proxies:
        # Only the proxies we run may tell us the client's address.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies
        )


def register_services(app: Flask, settings: Settings) -> None:
    client = make_redis(settings)
    store = RedisSessionStore(
        client,
        prefix=settings.redis_prefix,
        ttl_seconds=settings.session_ttl_seconds,
        resume_seconds=settings.resume_window_seconds,
    )
    limiter = RateLimiter(client, prefix=settings.redis_prefix)
    app.extensions[EXTENSION] = Hirfa(settings=settings, redis=client, session_store=store, limiter=limiter)
    app.extensions[AUDIO_EXTENSION] = PromptAudio(settings)
    init_sms(app, settings, client)
    init_calls(app, settings, client)


def register_blueprints(app: Flask, settings: Settings) -> None:
    app.register_blueprint(health.bp)
    app.register_blueprint(ussd.bp)
    app.register_blueprint(voice.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(sms.bp)
    app.register_blueprint(ops_web.bp)
    app.register_blueprint(ops_registrations.bp)
    app.register_blueprint(voice_audio.bp)
    if settings.env == "development":
        # The simulator's page carries the callback key: never served in production.
        app.register_blueprint(simulator.bp)


def register_errors(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[Response, int]:
        code = error.code or 500
        name = (error.name or "error").lower().replace(" ", "_")
        response = jsonify(error={"code": name, "message": error.description})
        response.headers.update(retry_after_header(error))
        return response, code

    @app.errorhandler(Exception)
    def internal_error(error: Exception) -> tuple[Response, int]:
        log.exception("unhandled error")
        return jsonify(error={"code": "internal_error", "message": "Something went wrong."}), 500


def register_cli(app: Flask) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(rna_cli)
    app.cli.add_command(agents_cli)
    app.cli.add_command(payments_cli)
    app.cli.add_command(partners_cli)
    app.cli.add_command(sms_cli)
    app.cli.add_command(smpp_cli)
    app.cli.add_command(reimbursements_cli)
    app.cli.add_command(cashpoints_cli)
    app.cli.add_command(requests_cli)
    app.cli.add_command(ussd_cli)
    app.cli.add_command(staff_cli)
    app.cli.add_command(chambers_cli)
    app.cli.add_command(voice_cli)


def announce(settings: Settings) -> None:
    if settings.uses_embedded_database:
        log.warning("embedded stand-in in use: SQLite database (%s), for a first run only", settings.database_url)
    log.info("hirfa ready", extra={"env": settings.env})
