"""Settings, read once from the environment into one frozen object.

Nothing here is read at import time: `Settings.from_env()` is called by `create_app`
(or by a test with its own mapping), so each app gets the settings it was given.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ENVIRONMENTS = ("development", "production")
LANGUAGES = ("ar", "fr")
EMBEDDED_DATABASE_URL = "sqlite:///" + str(Path(__file__).resolve().parent.parent / "instance" / "hirfa.db")
EMBEDDED_REDIS_URL = "fakeredis://"
SMS_BACKENDS = ("africastalking", "console", "fake")
QUIET_HOURS_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
DEVELOPMENT_SECRET_KEY = "dev-secret-key-not-for-production"  # noqa: S105 - development only; production refuses it
DEVELOPMENT_CALLBACK_KEY = "dev-callback-key"
# Every secret value the repository ships (the defaults above and `.env.example`'s
# placeholders; tests/unit/test_config.py checks both files against this list). Anyone can
# read them, so production refuses them whatever their length.
SHIPPED_SECRETS = frozenset(
    {
        DEVELOPMENT_SECRET_KEY,
        DEVELOPMENT_CALLBACK_KEY,
        "change-me-to-32-or-more-random-characters",
        "change-me-to-another-32-or-more-random-characters",
    }
)
# A production secret is refused when it is visibly not random. The rule, kept simple:
# under 32 bytes; fewer than 8 different characters (one repeated character, "abab…",
# a word typed again and again); or it holds one of these words once its punctuation
# is dropped ("change-me" is "changeme"). `openssl rand -hex 32` or
# `python3 -c 'import secrets; print(secrets.token_urlsafe(32))'` passes; a random
# 43-character token holds a 4-letter word of the list about once in 10,000 draws:
# the message says to draw another.
SECRET_MIN_BYTES = 32
SECRET_MIN_DISTINCT = 8
SECRET_WORDS = ("secret", "password", "passwd", "changeme", "example", "sample", "default", "test", "demo", "hirfa")


class SettingsError(RuntimeError):
    """A setting is missing or wrong; the message names it."""


def weakness(secret: str) -> str | None:
    """Why `secret` is no production secret (the rule above), or None. Never says the value."""
    if secret in SHIPPED_SECRETS:
        return "is a value the repository ships"
    if len(secret.encode()) < SECRET_MIN_BYTES:
        return f"is shorter than {SECRET_MIN_BYTES} bytes"
    if len(set(secret)) < SECRET_MIN_DISTINCT:
        return f"has fewer than {SECRET_MIN_DISTINCT} different characters"
    letters = re.sub(r"[^a-z0-9]", "", secret.lower())
    if any(word in letters for word in SECRET_WORDS):
        return "holds a dictionary word"
    return None


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, not {raw!r}") from None


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, not {raw!r}")


@dataclass(frozen=True)
class Settings:
    # Fail closed: whoever forgets HIRFA_ENV gets production's checks, not the demo's defaults.
    env: str = "production"
    database_url: str = EMBEDDED_DATABASE_URL
    redis_url: str = EMBEDDED_REDIS_URL
    secret_key: str = DEVELOPMENT_SECRET_KEY
    # Previous SECRET_KEYs, still accepted (never used to sign or encrypt) during a rotation.
    secret_key_fallbacks: tuple[str, ...] = ()
    ussd_callback_key: str = DEVELOPMENT_CALLBACK_KEY
    ussd_allowed_ips: tuple[str, ...] = ()
    trusted_proxies: int = 0
    ussd_service_codes: tuple[str, ...] = ()
    default_language: str = "ar"
    phone_regions: tuple[str, ...] = ("MA",)
    database_pool_size: int = 5
    session_ttl_seconds: int = 300
    # A session cut off mid-flow can be resumed by a dial within this time (0: never).
    resume_window_seconds: int = 120
    # Rate limits per minute (0: off). A person types a hop every few seconds at best;
    # the aggregator's few addresses carry every callback, hence the high per-IP one.
    ussd_hops_per_phone_per_minute: int = 30
    api_requests_per_key_per_minute: int = 600
    api_requests_per_ip_per_minute: int = 1200
    callbacks_per_ip_per_minute: int = 6000
    logins_per_ip_per_minute: int = 10
    identification_max_failures: int = 3
    identification_lockout_hours: int = 24
    # After a phone is linked by identification, its pick-up codes wait this long (a SIM
    # swap or a stranger with the CIN would collect the money before the owner notices).
    relink_cooldown_hours: int = 72
    reference_ttl_hours: int = 72
    amo_waiting_months: int = 3
    amo_suspend_after_unpaid: int = 3
    redis_prefix: str = "hirfa:"
    load_demo_data: bool = False
    log_level: str = "INFO"
    # /metrics: a bearer token or source addresses (production needs one of them).
    metrics_token: str = ""
    metrics_allowed_ips: tuple[str, ...] = ()
    # Screen budgets by aggregator: (all-GSM-7 characters, any other characters).
    screen_budgets: Mapping[str, tuple[int, int]] = field(default_factory=lambda: {"africastalking": (160, 80)})
    # SMS: who sends (africastalking in production), the RQ queue, retries and timeouts.
    sms_backend: str = "console"
    at_username: str = ""
    at_api_key: str = ""
    at_sender_id: str = ""
    at_api_base_url: str = ""  # empty: the SDK's own host (tests point it at a local fake)
    at_timeout_seconds: float = 10.0
    sms_queue: str = "sms"
    sms_job_timeout_seconds: int = 60
    sms_max_attempts: int = 8
    sms_retry_base_seconds: int = 30
    sms_retry_max_seconds: int = 3600
    sms_pending_timeout_seconds: int = 60
    sms_sending_timeout_seconds: int = 300
    sms_quiet_hours: str = "21:00-08:00"  # Africa/Casablanca; empty: none
    sms_sweep_interval_seconds: int = 60
    sms_reminder_day: int = 5
    sms_reminder_hour: int = 10
    sms_reminder_batch_size: int = 1000

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def uses_embedded_redis(self) -> bool:
        return self.redis_url.startswith("fakeredis")

    @property
    def quiet_hours(self) -> tuple[dt.time, dt.time] | None:
        """(start, end) of the hours without SMS, local time; None when there are none."""
        match = QUIET_HOURS_RE.match(self.sms_quiet_hours)
        if match is None:
            return None
        start_h, start_m, end_h, end_m = (int(group) for group in match.groups())
        return dt.time(start_h, start_m), dt.time(end_h, end_m)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        hirfa_env = env.get("HIRFA_ENV", "").strip() or "production"  # unset: production (fail closed)
        production = hirfa_env == "production"

        def text(name: str, default: str) -> str:
            value = env.get(name, "").strip()
            # In production a secret never falls back to the development default.
            return value or ("" if production else default)

        base = cls()
        settings = cls(
            env=hirfa_env,
            database_url=normalise_database_url(text("DATABASE_URL", base.database_url)),
            redis_url=text("REDIS_URL", base.redis_url),
            secret_key=text("SECRET_KEY", base.secret_key),
            secret_key_fallbacks=_split(env.get("SECRET_KEY_FALLBACKS", "")),
            ussd_callback_key=text("USSD_CALLBACK_KEY", base.ussd_callback_key),
            ussd_allowed_ips=_split(env.get("USSD_ALLOWED_IPS", "")),
            trusted_proxies=_int(env, "TRUSTED_PROXIES", 0),
            ussd_service_codes=_split(env.get("USSD_SERVICE_CODES", "")),
            default_language=env.get("DEFAULT_LANGUAGE", "ar").strip() or "ar",
            phone_regions=tuple(r.upper() for r in _split(env.get("PHONE_REGIONS", "MA"))) or ("MA",),
            database_pool_size=_int(env, "DATABASE_POOL_SIZE", 5),
            session_ttl_seconds=_int(env, "USSD_SESSION_TTL_SECONDS", 300),
            resume_window_seconds=_int(env, "RESUME_WINDOW_SECONDS", 120),
            ussd_hops_per_phone_per_minute=_int(env, "USSD_HOPS_PER_PHONE_PER_MINUTE", 30),
            api_requests_per_key_per_minute=_int(env, "API_REQUESTS_PER_KEY_PER_MINUTE", 600),
            api_requests_per_ip_per_minute=_int(env, "API_REQUESTS_PER_IP_PER_MINUTE", 1200),
            callbacks_per_ip_per_minute=_int(env, "CALLBACKS_PER_IP_PER_MINUTE", 6000),
            logins_per_ip_per_minute=_int(env, "LOGINS_PER_IP_PER_MINUTE", 10),
            identification_max_failures=_int(env, "IDENTIFICATION_MAX_FAILURES", 3),
            identification_lockout_hours=_int(env, "IDENTIFICATION_LOCKOUT_HOURS", 24),
            relink_cooldown_hours=_int(env, "RELINK_COOLDOWN_HOURS", 72),
            reference_ttl_hours=_int(env, "REFERENCE_TTL_HOURS", 72),
            amo_waiting_months=_int(env, "AMO_WAITING_MONTHS", 3),
            amo_suspend_after_unpaid=_int(env, "AMO_SUSPEND_AFTER_UNPAID", 3),
            redis_prefix=env.get("REDIS_PREFIX", "hirfa:").strip() or "hirfa:",
            load_demo_data=_bool(env, "LOAD_DEMO_DATA", False),
            log_level=env.get("LOG_LEVEL", "INFO").strip().upper() or "INFO",
            metrics_token=env.get("METRICS_TOKEN", "").strip(),
            metrics_allowed_ips=_split(env.get("METRICS_ALLOWED_IPS", "")),
            screen_budgets=_budgets(env.get("USSD_SCREEN_BUDGETS", "")),
            sms_backend=env.get("SMS_BACKEND", "").strip().lower() or ("africastalking" if production else "console"),
            at_username=env.get("AT_USERNAME", "").strip(),
            at_api_key=env.get("AT_API_KEY", "").strip(),
            at_sender_id=env.get("AT_SENDER_ID", "").strip(),
            at_api_base_url=env.get("AT_API_BASE_URL", "").strip().rstrip("/"),
            at_timeout_seconds=_float(env, "AT_TIMEOUT_SECONDS", base.at_timeout_seconds),
            sms_queue=env.get("SMS_QUEUE", "").strip() or base.sms_queue,
            sms_job_timeout_seconds=_int(env, "SMS_JOB_TIMEOUT_SECONDS", base.sms_job_timeout_seconds),
            sms_max_attempts=_int(env, "SMS_MAX_ATTEMPTS", base.sms_max_attempts),
            sms_retry_base_seconds=_int(env, "SMS_RETRY_BASE_SECONDS", base.sms_retry_base_seconds),
            sms_retry_max_seconds=_int(env, "SMS_RETRY_MAX_SECONDS", base.sms_retry_max_seconds),
            sms_pending_timeout_seconds=_int(env, "SMS_PENDING_TIMEOUT_SECONDS", base.sms_pending_timeout_seconds),
            sms_sending_timeout_seconds=_int(env, "SMS_SENDING_TIMEOUT_SECONDS", base.sms_sending_timeout_seconds),
            sms_quiet_hours=env.get("SMS_QUIET_HOURS", base.sms_quiet_hours).strip(),
            sms_sweep_interval_seconds=_int(env, "SMS_SWEEP_INTERVAL_SECONDS", base.sms_sweep_interval_seconds),
            sms_reminder_day=_int(env, "SMS_REMINDER_DAY", base.sms_reminder_day),
            sms_reminder_hour=_int(env, "SMS_REMINDER_HOUR", base.sms_reminder_hour),
            sms_reminder_batch_size=_int(env, "SMS_REMINDER_BATCH_SIZE", base.sms_reminder_batch_size),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        """Refuse settings that would be wrong or unsafe; name the setting at fault."""
        if self.env not in ENVIRONMENTS:
            raise SettingsError(f"HIRFA_ENV must be one of {', '.join(ENVIRONMENTS)}, not {self.env!r}")
        if self.default_language not in LANGUAGES:
            raise SettingsError(f"DEFAULT_LANGUAGE must be one of {', '.join(LANGUAGES)}")
        if self.trusted_proxies < 0:
            raise SettingsError("TRUSTED_PROXIES must be 0 or more")
        if not 1 <= self.database_pool_size <= 100:
            raise SettingsError("DATABASE_POOL_SIZE must be between 1 and 100")
        if not 1 <= self.reference_ttl_hours <= 24 * 30:
            raise SettingsError("REFERENCE_TTL_HOURS must be between 1 and 720")
        if self.session_ttl_seconds < 30:
            raise SettingsError("USSD_SESSION_TTL_SECONDS must be at least 30")
        if not 0 <= self.resume_window_seconds <= 3600:
            raise SettingsError("RESUME_WINDOW_SECONDS must be between 0 and 3600")
        limits = {
            "USSD_HOPS_PER_PHONE_PER_MINUTE": self.ussd_hops_per_phone_per_minute,
            "API_REQUESTS_PER_KEY_PER_MINUTE": self.api_requests_per_key_per_minute,
            "API_REQUESTS_PER_IP_PER_MINUTE": self.api_requests_per_ip_per_minute,
            "CALLBACKS_PER_IP_PER_MINUTE": self.callbacks_per_ip_per_minute,
            "LOGINS_PER_IP_PER_MINUTE": self.logins_per_ip_per_minute,
        }
        for name, value in limits.items():
            if value < 0:
                raise SettingsError(f"{name} must be 0 (off) or more")
        _check_addresses("USSD_ALLOWED_IPS", self.ussd_allowed_ips)
        _check_addresses("METRICS_ALLOWED_IPS", self.metrics_allowed_ips)
        if self.is_production:
            self._validate_production()
        self._validate_sms()

    def _validate_sms(self) -> None:
        if self.sms_backend not in SMS_BACKENDS:
            raise SettingsError(f"SMS_BACKEND must be one of {', '.join(SMS_BACKENDS)}, not {self.sms_backend!r}")
        if self.sms_backend == "africastalking" and not (self.at_username and self.at_api_key):
            raise SettingsError("AT_USERNAME and AT_API_KEY are required when SMS_BACKEND=africastalking")
        if self.at_api_base_url and not self.at_api_base_url.startswith(("http://", "https://")):
            raise SettingsError("AT_API_BASE_URL must be an http:// or https:// URL")
        if len(self.at_sender_id) > 11 and not self.at_sender_id.isdigit():
            raise SettingsError("AT_SENDER_ID: an alphanumeric sender id has at most 11 characters")
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", self.sms_queue):
            raise SettingsError("SMS_QUEUE must be a short name of letters, digits, '.', '_' or '-'")
        self._validate_sms_timing()

    def _validate_sms_timing(self) -> None:
        if not 0 < self.at_timeout_seconds <= 60:
            raise SettingsError("AT_TIMEOUT_SECONDS must be more than 0 and at most 60")
        # A job outlives its provider call; a `sending` row is presumed dead only after its job is.
        if self.sms_job_timeout_seconds < 2 * self.at_timeout_seconds + 5:
            raise SettingsError("SMS_JOB_TIMEOUT_SECONDS must be at least 2 x AT_TIMEOUT_SECONDS + 5")
        if self.sms_sending_timeout_seconds <= self.sms_job_timeout_seconds:
            raise SettingsError("SMS_SENDING_TIMEOUT_SECONDS must be longer than SMS_JOB_TIMEOUT_SECONDS")
        if not 1 <= self.sms_max_attempts <= 50:
            raise SettingsError("SMS_MAX_ATTEMPTS must be between 1 and 50")
        if not 1 <= self.sms_retry_base_seconds <= self.sms_retry_max_seconds:
            raise SettingsError("SMS_RETRY_BASE_SECONDS must be at least 1 and at most SMS_RETRY_MAX_SECONDS")
        if self.sms_pending_timeout_seconds < 1 or self.sms_sweep_interval_seconds < 1:
            raise SettingsError("SMS_PENDING_TIMEOUT_SECONDS and SMS_SWEEP_INTERVAL_SECONDS must be at least 1")
        if self.sms_quiet_hours and self.quiet_hours is None:
            raise SettingsError(f"SMS_QUIET_HOURS must look like 21:00-08:00 or be empty, not {self.sms_quiet_hours!r}")
        if not 1 <= self.sms_reminder_day <= 28 or not 0 <= self.sms_reminder_hour <= 23:
            raise SettingsError("SMS_REMINDER_DAY must be 1 to 28 and SMS_REMINDER_HOUR 0 to 23")
        if not 1 <= self.sms_reminder_batch_size <= 10_000:
            raise SettingsError("SMS_REMINDER_BATCH_SIZE must be between 1 and 10000")

    def secrets(self) -> list[tuple[str, str]]:
        """(setting, value) of every secret setting that is set: production checks each."""
        named = [
            ("SECRET_KEY", self.secret_key),
            ("USSD_CALLBACK_KEY", self.ussd_callback_key),
            ("METRICS_TOKEN", self.metrics_token),
            ("AT_API_KEY", self.at_api_key),
            *(("SECRET_KEY_FALLBACKS", value) for value in self.secret_key_fallbacks),
        ]
        return [(name, value) for name, value in named if value]

    def _validate_production(self) -> None:
        for name, value in (
            ("DATABASE_URL", self.database_url),
            ("REDIS_URL", self.redis_url),
            ("SECRET_KEY", self.secret_key),
            ("USSD_CALLBACK_KEY", self.ussd_callback_key),
        ):
            if not value:
                raise SettingsError(f"{name} is required when HIRFA_ENV=production")
        if self.uses_embedded_database:
            raise SettingsError("DATABASE_URL: production refuses the embedded SQLite database")
        if self.uses_embedded_redis:
            raise SettingsError("REDIS_URL: production refuses the in-process fakeredis stand-in")
        if self.load_demo_data:
            raise SettingsError("LOAD_DEMO_DATA: production refuses demo data")
        for name, value in self.secrets():
            reason = weakness(value)
            if reason is not None:
                raise SettingsError(f"{name} {reason}: production needs a random secret (e.g. `openssl rand -hex 32`)")
        if not (self.metrics_token or self.metrics_allowed_ips):
            raise SettingsError("METRICS_TOKEN or METRICS_ALLOWED_IPS is required when HIRFA_ENV=production")
        if self.sms_backend != "africastalking":
            raise SettingsError(f"SMS_BACKEND: production refuses the {self.sms_backend} sender")
        if self.at_username == "sandbox":
            raise SettingsError("AT_USERNAME: production refuses Africa's Talking's sandbox")
        if self.at_api_base_url and not self.at_api_base_url.startswith("https://"):
            raise SettingsError("AT_API_BASE_URL must be https:// in production")


def _check_addresses(name: str, addresses: tuple[str, ...]) -> None:
    for ip in addresses:
        try:
            ipaddress.ip_network(ip, strict=False)
        except ValueError:
            raise SettingsError(f"{name} has an invalid address: {ip!r}") from None


def _budgets(value: str) -> dict[str, tuple[int, int]]:
    """`africastalking=160/80,other=182/80` -> {"africastalking": (160, 80), ...}."""
    budgets: dict[str, tuple[int, int]] = {}
    for item in _split(value):
        name, _, sizes = item.partition("=")
        gsm7, _, other = sizes.partition("/")
        if not (name.strip() and gsm7.isdigit() and other.isdigit() and 40 <= int(other) <= int(gsm7) <= 182):
            raise SettingsError(f"USSD_SCREEN_BUDGETS: {item!r} is not like africastalking=160/80")
        budgets[name.strip()] = (int(gsm7), int(other))
    return budgets


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever scheme the operator wrote."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
