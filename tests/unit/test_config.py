"""Settings from an environment mapping; production refuses embedded and demo parts, and
any secret the repository ships or that is visibly not random."""

from __future__ import annotations

import dataclasses
import re
import secrets
from pathlib import Path

import pytest

from gateway.config import (
    DEVELOPMENT_CALLBACK_KEY,
    OPERATOR_SECRETS,
    SECRET_WORDS,
    SHIPPED_SECRETS,
    Settings,
    SettingsError,
)
from tests.helpers import PRODUCTION_SECRETS

ROOT = Path(__file__).resolve().parents[2]
DEVELOPMENT = {"HIRFA_ENV": "development"}
PRODUCTION = {
    "HIRFA_ENV": "production",
    "DATABASE_URL": "postgresql://hirfa:secret@db.internal:5432/hirfa",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "SECRET_KEY": PRODUCTION_SECRETS["secret_key"],
    "USSD_CALLBACK_KEY": PRODUCTION_SECRETS["ussd_callback_key"],
    "METRICS_TOKEN": PRODUCTION_SECRETS["metrics_token"],
    "AT_USERNAME": "hirfa",
    "AT_API_KEY": PRODUCTION_SECRETS["at_api_key"],
    "AZURE_SPEECH_REGION": PRODUCTION_SECRETS["azure_speech_region"],
    "AZURE_SPEECH_KEY": PRODUCTION_SECRETS["azure_speech_key"],
}
# Every secret setting: production checks each of them the same way.
SECRET_SETTINGS = (
    "SECRET_KEY",
    "SECRET_KEY_FALLBACKS",
    "USSD_CALLBACK_KEY",
    "USSD_CALLBACK_KEY_FALLBACKS",
    "METRICS_TOKEN",
    "AT_API_KEY",
    "SMPP_PASSWORD",
    "AZURE_SPEECH_KEY",
    "REDIS_SENTINEL_PASSWORD",
)


def production(**changes: str | None) -> dict[str, str]:
    """The valid production mapping with some entries changed (None: removed)."""
    env = dict(PRODUCTION)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def env_example() -> dict[str, str]:
    """NAME -> value of every setting `.env.example` writes out."""
    text = (ROOT / ".env.example").read_text()
    return {match[1]: match[2] for match in re.finditer(r"^([A-Z_]+)=(\S*)", text, re.MULTILINE)}


def test_development_defaults_use_embedded_database_and_redis() -> None:
    settings = Settings.from_env(DEVELOPMENT)

    assert settings.env == "development"
    assert not settings.is_production
    assert settings.database_url.startswith("sqlite:///")
    assert settings.uses_embedded_database
    assert settings.redis_url.startswith("fakeredis://")
    assert settings.uses_embedded_redis
    assert settings.secret_key
    assert settings.ussd_callback_key
    assert settings.default_language == "ar"
    assert settings.phone_regions == ("MA",)


def test_the_given_mapping_is_used_instead_of_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIRFA_ENV", "production")
    monkeypatch.setenv("DEFAULT_LANGUAGE", "fr")

    settings = Settings.from_env(DEVELOPMENT)

    assert settings.env == "development"
    assert settings.default_language == "ar"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u:p@h:5432/hirfa", "postgresql+psycopg://u:p@h:5432/hirfa"),
        ("postgresql://u:p@h:5432/hirfa", "postgresql+psycopg://u:p@h:5432/hirfa"),
        ("postgresql+psycopg://u:p@h:5432/hirfa", "postgresql+psycopg://u:p@h:5432/hirfa"),
    ],
)
def test_postgres_urls_use_psycopg3(url: str, expected: str) -> None:
    assert Settings.from_env({**DEVELOPMENT, "DATABASE_URL": url}).database_url == expected


def test_a_valid_production_mapping_passes() -> None:
    settings = Settings.from_env(PRODUCTION)

    assert settings.is_production
    assert settings.database_url == "postgresql+psycopg://hirfa:secret@db.internal:5432/hirfa"
    assert settings.redis_url == "redis://cache.internal:6379/0"
    assert not settings.uses_embedded_database
    assert not settings.uses_embedded_redis
    assert not settings.load_demo_data


@pytest.mark.parametrize("name", ["SECRET_KEY", "USSD_CALLBACK_KEY", "DATABASE_URL", "REDIS_URL"])
@pytest.mark.parametrize("value", [None, "", "   "])
def test_production_requires(name: str, value: str | None) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env(production(**{name: value}))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "sqlite:////var/lib/hirfa/hirfa.db"),
        ("REDIS_URL", "fakeredis://"),
        ("LOAD_DEMO_DATA", "true"),
    ],
)
def test_production_refuses(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env(production(**{name: value}))


def test_production_accepts_keys_of_exactly_the_minimum_length() -> None:
    key, callback = secrets.token_hex(16), secrets.token_hex(16)
    settings = Settings.from_env(production(SECRET_KEY=key, USSD_CALLBACK_KEY=callback))

    assert len(settings.secret_key) == 32
    assert settings.ussd_callback_key == callback


def test_development_accepts_what_production_refuses() -> None:
    settings = Settings.from_env(
        {**DEVELOPMENT, "DATABASE_URL": "sqlite:///tmp.db", "LOAD_DEMO_DATA": "true", "SECRET_KEY": "short"}
    )

    assert settings.uses_embedded_database
    assert settings.load_demo_data


# Fail closed ----------------------------------------------------------------------------


def test_hirfa_env_unset_means_production() -> None:
    assert Settings().env == "production"
    assert Settings.from_env(production(HIRFA_ENV=None)).is_production
    assert Settings.from_env(production(HIRFA_ENV="  ")).is_production
    # Without its secrets it does not start: nothing falls back to a development default.
    with pytest.raises(SettingsError, match="DATABASE_URL is required"):
        Settings.from_env({})
    with pytest.raises(SettingsError, match="SECRET_KEY is required"):
        Settings.from_env(production(HIRFA_ENV=None, SECRET_KEY=None))
    with pytest.raises(SettingsError):
        Settings().validate()


# No known secret in production ----------------------------------------------------------


def test_the_shipped_list_holds_every_secret_the_repository_ships() -> None:
    every = Settings(
        secret_key_fallbacks=("x",),
        ussd_callback_key_fallbacks=("x",),
        metrics_token="x",
        at_api_key="x",
        smpp_password="x",
        azure_speech_key="x",
        redis_sentinel_password="x",
    )
    assert {name for name, _ in every.secrets()} == set(SECRET_SETTINGS)
    example = env_example()
    shipped = [part for name in SECRET_SETTINGS for part in example.get(name, "").split(",") if part]
    assert shipped, ".env.example writes out no secret"
    shipped += [value for _, value in Settings().secrets()]
    shipped += [value for _, value in Settings.from_env(DEVELOPMENT).secrets()]
    assert set(shipped) <= SHIPPED_SECRETS


@pytest.mark.parametrize("value", sorted(SHIPPED_SECRETS))
@pytest.mark.parametrize("name", SECRET_SETTINGS)
def test_production_refuses_each_shipped_value(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"^{name} is a value the repository ships") as refused:
        Settings.from_env(production(**{name: value}))
    assert value not in str(refused.value)


WEAK = [
    pytest.param(secrets.token_hex(15) + "a", "shorter than 32 bytes", id="31-bytes"),
    pytest.param("s" * 64, "fewer than 8 different characters", id="one-character"),
    pytest.param("ab12" * 16, "fewer than 8 different characters", id="few-characters"),
    *(pytest.param(secrets.token_hex(20) + word.upper(), "dictionary word", id=word) for word in SECRET_WORDS),
    pytest.param("Change-Me-" + secrets.token_hex(20), "dictionary word", id="change-me"),
]


@pytest.mark.parametrize(("value", "reason"), WEAK)
@pytest.mark.parametrize("name", [name for name in SECRET_SETTINGS if name not in OPERATOR_SECRETS])
def test_production_refuses_secrets_that_are_not_random(name: str, value: str, reason: str) -> None:
    with pytest.raises(SettingsError, match=f"^{name} .*{reason}") as refused:
        Settings.from_env(production(**{name: value}))
    assert value not in str(refused.value)


def test_production_takes_an_operators_short_smpp_password_but_not_a_shipped_one() -> None:
    """SMPP 3.4 caps a bind password at 8 characters and the operator issues it."""
    smpp = {
        "SMS_BACKEND": "smpp",
        "SMPP_HOST": "smsc.example.ma",
        "SMPP_SYSTEM_ID": "hirfa",
        "SMPP_PASSWORD": "x7Gq2pLw",
        "SMPP_SOURCE_ADDR": "HIRFA",
    }
    settings = Settings.from_env(production(**smpp))
    assert (settings.sms_backend, settings.smpp_password) == ("smpp", "x7Gq2pLw")
    for shipped in (DEVELOPMENT_CALLBACK_KEY, "secret"):  # "secret": the password `make smsc` binds with
        with pytest.raises(SettingsError, match=r"^SMPP_PASSWORD is a value the repository ships"):
            Settings.from_env(production(**{**smpp, "SMPP_PASSWORD": shipped}))


@pytest.mark.parametrize("missing", ["SMPP_HOST", "SMPP_SYSTEM_ID", "SMPP_PASSWORD", "SMPP_SOURCE_ADDR"])
def test_production_refuses_smpp_without_its_settings(missing: str) -> None:
    smpp = {
        "SMS_BACKEND": "smpp",
        "SMPP_HOST": "smsc.example.ma",
        "SMPP_SYSTEM_ID": "hirfa",
        "SMPP_PASSWORD": "x7Gq2pLw",
        "SMPP_SOURCE_ADDR": "HIRFA",
    }
    with pytest.raises(SettingsError, match=f"^{missing} required when SMS_BACKEND=smpp"):
        Settings.from_env(production(**{**smpp, missing: None}))


def test_smpp_needs_a_real_redis() -> None:
    with pytest.raises(SettingsError, match="SMS_BACKEND=smpp needs REDIS_URL"):
        Settings.from_env({**DEVELOPMENT, "SMS_BACKEND": "smpp"})


def test_development_takes_the_shipped_secrets() -> None:
    settings = Settings.from_env({**DEVELOPMENT, "SECRET_KEY": "change-me-to-32-or-more-random-characters"})
    assert settings.secret_key in SHIPPED_SECRETS


def test_random_secrets_pass() -> None:
    # Hex holds none of the words; 64 characters of 16 are never fewer than 8 different.
    for _ in range(200):
        Settings.from_env(production(SECRET_KEY=secrets.token_hex(32), USSD_CALLBACK_KEY=secrets.token_hex(16)))
    # Drawn once with secrets.token_urlsafe(32) (a draw may hold a word: about 1 in 10,000).
    Settings.from_env(production(SECRET_KEY="bvTFZwlBetH7nANspgX5ZrtLLmCVk0Ko0Kqs0nQV1Cw"))


def test_previous_secrets_are_read_from_secret_key_fallbacks() -> None:
    old, older = secrets.token_hex(32), secrets.token_hex(32)
    settings = Settings.from_env(production(SECRET_KEY_FALLBACKS=f" {old}, {older} ,"))
    assert settings.secret_key_fallbacks == (old, older)
    assert Settings.from_env(production()).secret_key_fallbacks == ()


def test_production_needs_a_metrics_token_or_addresses() -> None:
    with pytest.raises(SettingsError, match="METRICS_TOKEN or METRICS_ALLOWED_IPS"):
        Settings.from_env(production(METRICS_TOKEN=None))
    settings = Settings.from_env(production(METRICS_TOKEN=None, METRICS_ALLOWED_IPS="10.0.0.0/8, 192.0.2.7"))
    assert settings.metrics_allowed_ips == ("10.0.0.0/8", "192.0.2.7")
    with pytest.raises(SettingsError, match="METRICS_ALLOWED_IPS"):
        Settings.from_env(production(METRICS_ALLOWED_IPS="metrics.internal"))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HIRFA_ENV", "staging"),
        ("DEFAULT_LANGUAGE", "en"),
        ("TRUSTED_PROXIES", "two"),
        ("TRUSTED_PROXIES", "-1"),
        ("USSD_ALLOWED_IPS", "196.200.1.1, 300.1.1.1"),
        ("USSD_ALLOWED_IPS", "africastalking.com"),
        ("LOAD_DEMO_DATA", "maybe"),
    ],
)
def test_wrong_values_are_refused_naming_the_setting(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({**DEVELOPMENT, name: value})


def test_lists_are_split_and_trimmed() -> None:
    settings = Settings.from_env(
        {
            **DEVELOPMENT,
            "USSD_ALLOWED_IPS": "196.200.1.1, 10.0.0.0/8 ,2001:db8::/32",
            "USSD_SERVICE_CODES": "*4242#, *4243#",
            "TRUSTED_PROXIES": "1",
        }
    )

    assert settings.ussd_allowed_ips == ("196.200.1.1", "10.0.0.0/8", "2001:db8::/32")
    assert settings.ussd_service_codes == ("*4242#", "*4243#")
    assert settings.trusted_proxies == 1


def test_phone_regions_are_read_uppercase() -> None:
    assert Settings.from_env({**DEVELOPMENT, "PHONE_REGIONS": "ma, fr ,Es"}).phone_regions == ("MA", "FR", "ES")


def test_settings_are_frozen() -> None:
    settings = Settings.from_env(DEVELOPMENT)

    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.env = "production"  # type: ignore[misc]


def test_env_example_lists_every_setting_under_its_group_with_its_default() -> None:
    """Each setting is written once in Settings; `.env.example` follows it: the same
    names (commented-out ones count), in the same groups, and the defaults as values."""
    text = (ROOT / ".env.example").read_text()
    listed = re.findall(r"^(?:# )?([A-Z][A-Z0-9_]+)=", text, re.MULTILINE)
    listed = [name for name in listed if name != "PROMETHEUS_MULTIPROC_DIR"]  # read by prometheus_client
    variables = Settings.variables()
    assert sorted(listed) == sorted(variables)
    headings = re.findall(r"^# -- (.+?) ---", text, re.MULTILINE)
    groups = list(dict.fromkeys(group for _, group in variables.values()))
    assert len(headings) == len(groups)
    order = [variables[name][1] for name in listed]
    assert order == sorted(order, key=groups.index), "a setting is listed under another group"
    defaults = Settings(env="development")
    shown_otherwise = {"HIRFA_ENV", "USSD_SERVICE_CODES", *SECRET_SETTINGS}  # the example's own choice
    for name, value in env_example().items():
        if name in shown_otherwise or not value:
            continue
        field = variables[name][0]
        read = Settings.from_env({"HIRFA_ENV": "development", name: value})
        assert getattr(read, field) == getattr(defaults, field), name


# Voice: the text-to-speech backend -------------------------------------------------------


def test_production_speaks_with_azure_by_default_and_refuses_espeak() -> None:
    settings = Settings.from_env(production())
    assert (settings.voice_tts_backend, settings.voice_offer_synthesised) == ("azure", False)
    # espeak-ng's Arabic is a robot reading Standard Arabic: no caller should hear it.
    with pytest.raises(SettingsError, match=r"^VOICE_TTS_BACKEND: production refuses espeak"):
        Settings.from_env(production(VOICE_TTS_BACKEND="espeak"))
    assert Settings.from_env(production(VOICE_TTS_BACKEND="none", AZURE_SPEECH_KEY=None)).voice_tts_backend == "none"
    with pytest.raises(SettingsError, match="AZURE_SPEECH_ENDPOINT must be https"):
        Settings.from_env(production(AZURE_SPEECH_ENDPOINT="http://tts.internal"))


@pytest.mark.parametrize("missing", ["AZURE_SPEECH_KEY", "AZURE_SPEECH_REGION"])
def test_azure_needs_its_key_and_region(missing: str) -> None:
    with pytest.raises(SettingsError, match=r"^AZURE_SPEECH_KEY and AZURE_SPEECH_REGION .* required"):
        Settings.from_env(production(**{missing: None}))
    # An endpoint of its own stands for the region (a sovereign cloud, the local fake).
    assert Settings.from_env(production(AZURE_SPEECH_REGION=None, AZURE_SPEECH_ENDPOINT="https://tts.example"))


def test_voice_backend_and_timeout_are_checked() -> None:
    with pytest.raises(SettingsError, match=r"^VOICE_TTS_BACKEND must be one of espeak, azure, none"):
        Settings.from_env({**DEVELOPMENT, "VOICE_TTS_BACKEND": "polly"})
    with pytest.raises(SettingsError, match=r"^VOICE_TTS_TIMEOUT_SECONDS"):
        Settings.from_env({**DEVELOPMENT, "VOICE_TTS_TIMEOUT_SECONDS": "120"})
    assert Settings.from_env({**DEVELOPMENT, "VOICE_TTS_BACKEND": "ESPEAK"}).voice_tts_backend == "espeak"
