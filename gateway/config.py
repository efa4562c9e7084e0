"""Settings, read once from the environment into one frozen object.

Nothing here is read at import time: `Settings.from_env()` is called by `create_app`
(or by a test with its own mapping), so each app gets the settings it was given.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

ENVIRONMENTS = ("development", "production")
LANGUAGES = ("ar", "fr")
EMBEDDED_DATABASE_URL = "sqlite:///" + str(Path(__file__).resolve().parent.parent / "instance" / "hirfa.db")
EMBEDDED_REDIS_URL = "fakeredis://"
DEMO_SHORT_CODE = "*4242#"
SMS_BACKENDS = ("africastalking", "smpp", "console", "fake")
PRODUCTION_SMS_BACKENDS = ("africastalking", "smpp")
VOICE_TTS_BACKENDS = ("espeak", "azure", "none")
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
        "secret",  # the bind password of the local SMSC (`make smsc`)
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


# Secrets another party issues within its own limits (SMPP: at most 8 characters; Azure
# issues its Speech keys).
OPERATOR_SECRETS = frozenset({"SMPP_PASSWORD", "AZURE_SPEECH_KEY"})


def shipped(secret: str) -> str | None:
    return "is a value the repository ships" if secret in SHIPPED_SECRETS else None


def weakness(secret: str) -> str | None:
    """Why `secret` is no production secret (the rule above), or None. Never says the value."""
    if secret in SHIPPED_SECRETS:
        return shipped(secret)
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


def _int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None


def _float(name: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, not {raw!r}") from None


def _bool(name: str, raw: str) -> bool:
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, not {raw!r}")


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
    """Use psycopg 3 for PostgreSQL whatever scheme the operator wrote, and write libpq's
    several hosts (`postgresql://u@h1:5432,h2:5433/db?target_session_attrs=read-write`)
    the way SQLAlchemy reads them (`postgresql+psycopg://u@/db?host=h1:5432&host=h2:5433&…`):
    libpq then tries each in turn and keeps the one the attributes ask for."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix) :]
    scheme, sep, rest = url.partition("://")
    if not (sep and scheme.startswith("postgresql")):
        return url
    authority, _, tail = rest.partition("/")
    user, at, hosts = authority.rpartition("@")
    if "," not in hosts:
        return url
    database, _, query = tail.partition("?")
    extra = "&".join(f"host={host.strip()}" for host in hosts.split(",") if host.strip())
    return f"{scheme}://{user}{at}/{database}?{extra}" + (f"&{query}" if query else "")


def _sentinels(raw: str) -> tuple[tuple[str, int], ...]:
    """`10.0.0.1:26379,10.0.0.2:26379` -> (("10.0.0.1", 26379), …)."""
    found = []
    for item in _split(raw):
        host, _, port = item.rpartition(":")
        if not (host and port.isdigit() and 0 < int(port) < 65536):
            raise SettingsError(f"REDIS_SENTINELS: {item!r} is not like host:26379")
        found.append((host.strip("[]"), int(port)))
    return tuple(found)


# How a value of each annotated type is read from its environment variable.
READERS: dict[str, Callable[[str, str], Any]] = {
    "str": lambda _name, raw: raw,
    "int": _int,
    "float": _float,
    "bool": _bool,
    "tuple[str, ...]": lambda _name, raw: _split(raw),
}


def setting(
    env: str,
    default: Any,
    *,
    group: str,
    read: Callable[[str], Any] | None = None,
    production_default: Any = None,
    empty_is_a_value: bool = False,
) -> Any:
    """One setting, written once: its variable `env`, its `default` and its `group`.

    `read` turns the text into the value (the annotation's reader otherwise);
    `production_default` replaces the default in production (a secret or a stand-in never
    falls back to the development value); `empty_is_a_value` keeps a variable set to
    nothing (SMS_QUIET_HOURS= means no quiet hours) rather than taking the default."""
    metadata = {
        "env": env,
        "group": group,
        "read": read,
        "production_default": production_default,
        "empty_is_a_value": empty_is_a_value,
    }
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Settings:
    """Every setting, by group; each reads the environment variable its `setting()` names
    (`.env.example` lists them all, tested). Access stays flat: `settings.sms_backend`."""

    # -- where it runs: environment, database, Redis, logs --------------------------------
    # Fail closed: whoever forgets HIRFA_ENV gets production's checks, not the demo's defaults.
    env: str = setting("HIRFA_ENV", "production", group="core")
    database_url: str = setting(
        "DATABASE_URL", EMBEDDED_DATABASE_URL, group="core", read=normalise_database_url,
        production_default="",
    )  # fmt: skip
    database_pool_size: int = setting("DATABASE_POOL_SIZE", 5, group="core")
    redis_url: str = setting("REDIS_URL", EMBEDDED_REDIS_URL, group="core", production_default="")
    redis_prefix: str = setting("REDIS_PREFIX", "hirfa:", group="core")
    # High availability: the Sentinels that name the current Redis master (REDIS_URL is then
    # not used), the master's name they watch, and their password (the master's too).
    redis_sentinels: tuple[tuple[str, int], ...] = setting("REDIS_SENTINELS", (), group="core", read=_sentinels)
    redis_sentinel_master: str = setting("REDIS_SENTINEL_MASTER", "hirfa", group="core")
    redis_sentinel_password: str = setting("REDIS_SENTINEL_PASSWORD", "", group="core")
    # Read-only work that may lag (dashboard figures, settlement of past days) on a standby;
    # unset: the primary (DATABASE_URL).
    database_read_url: str = setting("DATABASE_READ_URL", "", group="core", read=normalise_database_url)
    log_level: str = setting("LOG_LEVEL", "INFO", group="core", read=str.upper)
    load_demo_data: bool = setting("LOAD_DEMO_DATA", False, group="core")
    trusted_proxies: int = setting("TRUSTED_PROXIES", 0, group="core")

    # -- secrets (production refuses shipped and weak values: SHIPPED_SECRETS, weakness) --
    secret_key: str = setting("SECRET_KEY", DEVELOPMENT_SECRET_KEY, group="secrets", production_default="")
    # Previous SECRET_KEYs, still accepted (never used to sign or encrypt) during a rotation.
    secret_key_fallbacks: tuple[str, ...] = setting("SECRET_KEY_FALLBACKS", (), group="secrets")
    # /metrics: a bearer token or source addresses (production needs one of them).
    metrics_token: str = setting("METRICS_TOKEN", "", group="secrets")
    metrics_allowed_ips: tuple[str, ...] = setting("METRICS_ALLOWED_IPS", (), group="secrets")

    # -- USSD: the aggregator's callbacks and the sessions -------------------------------
    ussd_callback_key: str = setting("USSD_CALLBACK_KEY", DEVELOPMENT_CALLBACK_KEY, group="ussd", production_default="")
    # The previous callback keys, still accepted while the aggregator's URL is being changed.
    ussd_callback_key_fallbacks: tuple[str, ...] = setting("USSD_CALLBACK_KEY_FALLBACKS", (), group="ussd")
    ussd_allowed_ips: tuple[str, ...] = setting("USSD_ALLOWED_IPS", (), group="ussd")
    ussd_service_codes: tuple[str, ...] = setting("USSD_SERVICE_CODES", (), group="ussd")
    default_language: str = setting("DEFAULT_LANGUAGE", "ar", group="ussd")
    phone_regions: tuple[str, ...] = setting(
        "PHONE_REGIONS", ("MA",), group="ussd", read=lambda raw: tuple(r.upper() for r in _split(raw)) or ("MA",)
    )
    session_ttl_seconds: int = setting("USSD_SESSION_TTL_SECONDS", 300, group="ussd")
    # A session cut off mid-flow can be resumed by a dial within this time (0: never).
    resume_window_seconds: int = setting("RESUME_WINDOW_SECONDS", 120, group="ussd")
    # Screen budgets by aggregator: (all-GSM-7 characters, any other characters).
    screen_budgets: Mapping[str, tuple[int, int]] = setting(
        "USSD_SCREEN_BUDGETS", {"africastalking": (160, 80), "smpp": (160, 80)}, group="ussd", read=_budgets
    )

    # -- identification of a phone -------------------------------------------------------
    identification_max_failures: int = setting("IDENTIFICATION_MAX_FAILURES", 3, group="identification")
    identification_lockout_hours: int = setting("IDENTIFICATION_LOCKOUT_HOURS", 24, group="identification")
    # After a phone is linked by identification, its pick-up codes wait this long (a SIM
    # swap or a stranger with the CIN would collect the money before the owner notices).
    relink_cooldown_hours: int = setting("RELINK_COOLDOWN_HOURS", 72, group="identification")

    # -- payments and AMO rights ---------------------------------------------------------
    reference_ttl_hours: int = setting("REFERENCE_TTL_HOURS", 72, group="payments")
    amo_waiting_months: int = setting("AMO_WAITING_MONTHS", 3, group="payments")
    amo_suspend_after_unpaid: int = setting("AMO_SUSPEND_AFTER_UNPAID", 3, group="payments")

    # -- rate limits per minute (0: off) -------------------------------------------------
    # A person types a hop every few seconds at best; the aggregator's few addresses carry
    # every callback, hence the high per-IP one.
    ussd_hops_per_phone_per_minute: int = setting("USSD_HOPS_PER_PHONE_PER_MINUTE", 30, group="limits")
    api_requests_per_key_per_minute: int = setting("API_REQUESTS_PER_KEY_PER_MINUTE", 600, group="limits")
    api_requests_per_ip_per_minute: int = setting("API_REQUESTS_PER_IP_PER_MINUTE", 1200, group="limits")
    callbacks_per_ip_per_minute: int = setting("CALLBACKS_PER_IP_PER_MINUTE", 6000, group="limits")
    logins_per_ip_per_minute: int = setting("LOGINS_PER_IP_PER_MINUTE", 10, group="limits")

    # -- SMS: who sends (africastalking in production), the RQ queue, retries, timing ----
    sms_backend: str = setting(
        "SMS_BACKEND", "console", group="sms", read=str.lower, production_default="africastalking"
    )
    at_username: str = setting("AT_USERNAME", "", group="sms")
    at_api_key: str = setting("AT_API_KEY", "", group="sms")
    at_sender_id: str = setting("AT_SENDER_ID", "", group="sms")
    # Empty: the SDK's own host (tests point it at a local fake).
    at_api_base_url: str = setting("AT_API_BASE_URL", "", group="sms", read=lambda raw: raw.rstrip("/"))
    at_timeout_seconds: float = setting("AT_TIMEOUT_SECONDS", 10.0, group="sms")
    sms_queue: str = setting("SMS_QUEUE", "sms", group="sms")
    sms_job_timeout_seconds: int = setting("SMS_JOB_TIMEOUT_SECONDS", 60, group="sms")
    sms_max_attempts: int = setting("SMS_MAX_ATTEMPTS", 8, group="sms")
    sms_retry_base_seconds: int = setting("SMS_RETRY_BASE_SECONDS", 30, group="sms")
    sms_retry_max_seconds: int = setting("SMS_RETRY_MAX_SECONDS", 3600, group="sms")
    sms_pending_timeout_seconds: int = setting("SMS_PENDING_TIMEOUT_SECONDS", 60, group="sms")
    sms_sending_timeout_seconds: int = setting("SMS_SENDING_TIMEOUT_SECONDS", 300, group="sms")
    # Africa/Casablanca; set to nothing: no quiet hours.
    sms_quiet_hours: str = setting("SMS_QUIET_HOURS", "21:00-08:00", group="sms", empty_is_a_value=True)
    sms_sweep_interval_seconds: int = setting("SMS_SWEEP_INTERVAL_SECONDS", 60, group="sms")
    sms_reminder_day: int = setting("SMS_REMINDER_DAY", 5, group="sms")
    sms_reminder_hour: int = setting("SMS_REMINDER_HOUR", 10, group="sms")
    sms_reminder_batch_size: int = setting("SMS_REMINDER_BATCH_SIZE", 1000, group="sms")

    # -- SMPP: one bound transceiver to the operator's or aggregator's SMSC (`flask smpp run`) --
    smpp_host: str = setting("SMPP_HOST", "", group="smpp")
    smpp_port: int = setting("SMPP_PORT", 2775, group="smpp")
    smpp_system_id: str = setting("SMPP_SYSTEM_ID", "", group="smpp")
    smpp_password: str = setting("SMPP_PASSWORD", "", group="smpp")
    smpp_system_type: str = setting("SMPP_SYSTEM_TYPE", "", group="smpp")
    smpp_source_addr: str = setting("SMPP_SOURCE_ADDR", "", group="smpp")
    smpp_service_number: str = setting("SMPP_SERVICE_NUMBER", "", group="smpp")
    smpp_max_per_second: int = setting("SMPP_MAX_PER_SECOND", 50, group="smpp")
    smpp_window: int = setting("SMPP_WINDOW", 10, group="smpp")
    smpp_metrics_port: int = setting("SMPP_METRICS_PORT", 9102, group="smpp")
    # The operator's window for a USSD answer: past it nothing is sent (the session is cut off).
    smpp_ussd_answer_seconds: float = setting("SMPP_USSD_ANSWER_SECONDS", 8.0, group="smpp")

    # -- voice: the IVR over Africa's Talking Voice, its prompts and calls out ------------
    # Empty: USSD_CALLBACK_KEY (the same aggregator account usually calls both).
    voice_callback_key: str = setting("VOICE_CALLBACK_KEY", "", group="voice")
    # Previous voice callback keys, still accepted while Africa's Talking's URL changes.
    voice_callback_key_fallbacks: tuple[str, ...] = setting("VOICE_CALLBACK_KEY_FALLBACKS", (), group="voice")
    # How long a prompt waits for keys after it was played (AT's GetDigits timeout).
    voice_answer_seconds: int = setting("VOICE_ANSWER_SECONDS", 10, group="voice")
    # Where Africa's Talking fetches the prompts' audio (`<Play url=...>`): this app or a static host.
    public_base_url: str = setting(
        "PUBLIC_BASE_URL", "http://127.0.0.1:5000", group="voice", read=lambda raw: raw.rstrip("/"),
        production_default="",
    )  # fmt: skip
    # Text-to-speech for prompts without a recording: espeak (offline, development), azure, none.
    voice_tts_backend: str = setting(
        "VOICE_TTS_BACKEND", "espeak", group="voice", read=str.lower, production_default="azure"
    )
    azure_speech_region: str = setting("AZURE_SPEECH_REGION", "", group="voice")
    azure_speech_key: str = setting("AZURE_SPEECH_KEY", "", group="voice")
    # Empty: https://<region>.tts.speech.microsoft.com (tests point it at a local fake).
    azure_speech_endpoint: str = setting("AZURE_SPEECH_ENDPOINT", "", group="voice", read=lambda raw: raw.rstrip("/"))
    voice_recordings_dir: str = setting("VOICE_RECORDINGS_DIR", "instance/voice/recordings", group="voice")
    voice_audio_dir: str = setting("VOICE_AUDIO_DIR", "instance/voice/audio", group="voice")
    # One synthesis (espeak-ng run or Azure request); a voice step waits on it when a value is new.
    voice_tts_timeout_seconds: float = setting("VOICE_TTS_TIMEOUT_SECONDS", 5.0, group="voice")
    # Offer a language whose prompts are synthesised only (not all recorded): yes in development.
    voice_offer_synthesised: bool = setting("VOICE_OFFER_SYNTHESISED", True, group="voice", production_default=False)
    # The Africa's Talking number calls out come from (reminders by voice).
    at_voice_number: str = setting("AT_VOICE_NUMBER", "", group="voice")
    # Empty: the SDK's own host (https://voice.africastalking.com; tests point it at a local fake).
    at_voice_api_base_url: str = setting("AT_VOICE_API_BASE_URL", "", group="voice", read=lambda raw: raw.rstrip("/"))
    # A call not answered (or refused) is tried once more this much later, then an SMS goes instead.
    voice_call_retry_minutes: int = setting("VOICE_CALL_RETRY_MINUTES", 30, group="voice")
    # A call AT took but whose outcome never came back counts as not answered after this long.
    voice_call_outcome_minutes: int = setting("VOICE_CALL_OUTCOME_MINUTES", 60, group="voice")

    @property
    def voice_callback_keys(self) -> tuple[str, ...]:
        """The keys that open the voice callback: VOICE_CALLBACK_KEY and its fallbacks,
        else USSD_CALLBACK_KEY and its fallbacks."""
        if self.voice_callback_key:
            return (self.voice_callback_key, *self.voice_callback_key_fallbacks)
        return (self.ussd_callback_key, *self.ussd_callback_key_fallbacks)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def short_code(self) -> str:
        """The code artisans dial, for texts that tell them to: the first of
        USSD_SERVICE_CODES, else the demo's."""
        return self.ussd_service_codes[0] if self.ussd_service_codes else DEMO_SHORT_CODE

    @property
    def calls_out(self) -> bool:
        """Reminders may go as calls: an AT voice number and the account's credentials are set."""
        return bool(self.at_voice_number and self.at_username and self.at_api_key)

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def uses_embedded_redis(self) -> bool:
        return not self.redis_sentinels and self.redis_url.startswith("fakeredis")

    @property
    def quiet_hours(self) -> tuple[dt.time, dt.time] | None:
        """(start, end) of the hours without SMS, local time; None when there are none."""
        match = QUIET_HOURS_RE.match(self.sms_quiet_hours)
        if match is None:
            return None
        start_h, start_m, end_h, end_m = (int(group) for group in match.groups())
        return dt.time(start_h, start_m), dt.time(end_h, end_m)

    @classmethod
    def variables(cls) -> dict[str, tuple[str, str]]:
        """Environment variable -> (field name, group), in declaration order."""
        return {f.metadata["env"]: (f.name, f.metadata["group"]) for f in fields(cls)}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        production = (env.get("HIRFA_ENV", "").strip() or "production") == "production"
        values: dict[str, Any] = {}
        for f in fields(cls):
            meta = f.metadata
            name = meta["env"]
            raw = env.get(name, "").strip()
            if not raw and not (meta["empty_is_a_value"] and name in env):
                if production and meta["production_default"] is not None:
                    values[f.name] = meta["production_default"]
                continue  # the declared default
            values[f.name] = meta["read"](raw) if meta["read"] else READERS[str(f.type)](name, raw)
        settings = cls(**values)
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
        self._validate_voice()
        self._validate_calls_out()

    def _validate_calls_out(self) -> None:
        schemes = ("https://",) if self.is_production else ("http://", "https://")
        if self.at_voice_api_base_url and not self.at_voice_api_base_url.startswith(schemes):
            raise SettingsError(f"AT_VOICE_API_BASE_URL must be a {' or '.join(schemes)} URL")
        if not 1 <= self.voice_call_retry_minutes <= 24 * 60 or not 1 <= self.voice_call_outcome_minutes <= 24 * 60:
            raise SettingsError("VOICE_CALL_RETRY_MINUTES and VOICE_CALL_OUTCOME_MINUTES must be 1 to 1440")

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
        self._validate_smpp()

    def _validate_smpp(self) -> None:
        if not 1 <= self.smpp_window <= 100:
            raise SettingsError("SMPP_WINDOW must be between 1 and 100")
        if not 1 <= self.smpp_max_per_second <= 10_000:
            raise SettingsError("SMPP_MAX_PER_SECOND must be between 1 and 10000")
        if not 0 < self.smpp_port < 65536 or not 0 <= self.smpp_metrics_port < 65536:
            raise SettingsError("SMPP_PORT and SMPP_METRICS_PORT must be TCP ports")
        if len(self.smpp_source_addr) > 11 and not self.smpp_source_addr.lstrip("+").isdigit():
            raise SettingsError("SMPP_SOURCE_ADDR: an alphanumeric sender id has at most 11 characters")
        if self.sms_backend == "smpp" and self.uses_embedded_redis:
            raise SettingsError("SMS_BACKEND=smpp needs REDIS_URL: `flask smpp run` reads the outbox ids there")

    def smpp_missing(self) -> list[str]:
        """The settings `flask smpp run` cannot do without, when unset."""
        required = {
            "SMPP_HOST": self.smpp_host,
            "SMPP_SYSTEM_ID": self.smpp_system_id,
            "SMPP_PASSWORD": self.smpp_password,
            "SMPP_SOURCE_ADDR": self.smpp_source_addr,
        }
        return [name for name, value in required.items() if not value]

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
        if not 1 <= self.voice_answer_seconds <= 60:
            raise SettingsError("VOICE_ANSWER_SECONDS must be between 1 and 60")
        if not 1 <= self.sms_reminder_batch_size <= 10_000:
            raise SettingsError("SMS_REMINDER_BATCH_SIZE must be between 1 and 10000")

    def _validate_voice(self) -> None:
        if self.voice_tts_backend not in VOICE_TTS_BACKENDS:
            raise SettingsError(f"VOICE_TTS_BACKEND must be one of {', '.join(VOICE_TTS_BACKENDS)}")
        if self.voice_tts_backend == "azure" and not (
            self.azure_speech_key and (self.azure_speech_region or self.azure_speech_endpoint)
        ):
            raise SettingsError(
                "AZURE_SPEECH_KEY and AZURE_SPEECH_REGION (or AZURE_SPEECH_ENDPOINT) are required "
                "when VOICE_TTS_BACKEND=azure"
            )
        if self.azure_speech_endpoint and not self.azure_speech_endpoint.startswith(("http://", "https://")):
            raise SettingsError("AZURE_SPEECH_ENDPOINT must be an http:// or https:// URL")
        if not 0.5 <= self.voice_tts_timeout_seconds <= 30:
            raise SettingsError("VOICE_TTS_TIMEOUT_SECONDS must be between 0.5 and 30")
        if self.is_production:
            # espeak-ng's Arabic is a formant voice reading Modern Standard Arabic: a caller who
            # cannot read would hear a robot, not Darija. Production speaks recordings, Azure's
            # neural voices, or (none) recordings only.
            if self.voice_tts_backend == "espeak":
                raise SettingsError("VOICE_TTS_BACKEND: production refuses espeak (azure or none)")
            if self.azure_speech_endpoint and not self.azure_speech_endpoint.startswith("https://"):
                raise SettingsError("AZURE_SPEECH_ENDPOINT must be https:// in production")

    def secrets(self) -> list[tuple[str, str]]:
        """(setting, value) of every secret setting that is set: production checks each."""
        named = [
            ("SECRET_KEY", self.secret_key),
            ("USSD_CALLBACK_KEY", self.ussd_callback_key),
            ("METRICS_TOKEN", self.metrics_token),
            ("AT_API_KEY", self.at_api_key),
            ("SMPP_PASSWORD", self.smpp_password),
            ("AZURE_SPEECH_KEY", self.azure_speech_key),
            ("REDIS_SENTINEL_PASSWORD", self.redis_sentinel_password),
            *(("SECRET_KEY_FALLBACKS", value) for value in self.secret_key_fallbacks),
            *(("USSD_CALLBACK_KEY_FALLBACKS", value) for value in self.ussd_callback_key_fallbacks),
            ("VOICE_CALLBACK_KEY", self.voice_callback_key),
            *(("VOICE_CALLBACK_KEY_FALLBACKS", value) for value in self.voice_callback_key_fallbacks),
        ]
        return [(name, value) for name, value in named if value]

    def _validate_production(self) -> None:
        for name, value in (
            ("DATABASE_URL", self.database_url),
            ("REDIS_URL or REDIS_SENTINELS", self.redis_url or self.redis_sentinels),
            ("SECRET_KEY", self.secret_key),
            ("USSD_CALLBACK_KEY", self.ussd_callback_key),
        ):
            if not value:
                raise SettingsError(f"{name} is required when HIRFA_ENV=production")
        for name, used, stand_in in (
            ("DATABASE_URL", self.uses_embedded_database, "the embedded SQLite database"),
            ("DATABASE_READ_URL", self.database_read_url.startswith("sqlite"), "an SQLite database"),
            ("REDIS_URL", self.uses_embedded_redis, "the in-process fakeredis stand-in"),
        ):
            if used:
                raise SettingsError(f"{name}: production refuses {stand_in}")
        if self.load_demo_data:
            raise SettingsError("LOAD_DEMO_DATA: production refuses demo data")
        for name, value in self.secrets():
            # SMPP 3.4 caps a bind password at 8 characters, and the operator chooses it:
            # only the values we ship are refused.
            reason = weakness(value) if name not in OPERATOR_SECRETS else shipped(value)
            if reason is not None:
                raise SettingsError(f"{name} {reason}: production needs a random value (e.g. `openssl rand -hex 32`)")
        if not (self.metrics_token or self.metrics_allowed_ips):
            raise SettingsError("METRICS_TOKEN or METRICS_ALLOWED_IPS is required when HIRFA_ENV=production")
        if self.sms_backend not in PRODUCTION_SMS_BACKENDS:
            raise SettingsError(f"SMS_BACKEND: production refuses the {self.sms_backend} sender")
        if self.sms_backend == "smpp" and self.smpp_missing():
            raise SettingsError(f"{', '.join(self.smpp_missing())} required when SMS_BACKEND=smpp in production")
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
