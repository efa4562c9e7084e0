"""Settings from an environment mapping; production refuses embedded and demo parts."""

from __future__ import annotations

import dataclasses

import pytest

from gateway.config import Settings, SettingsError

PRODUCTION = {
    "HIRFA_ENV": "production",
    "DATABASE_URL": "postgresql://hirfa:secret@db.internal:5432/hirfa",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "SECRET_KEY": "s" * 40,
    "USSD_CALLBACK_KEY": "k" * 32,
    "AT_USERNAME": "hirfa",
    "AT_API_KEY": "a" * 32,
}


def production(**changes: str | None) -> dict[str, str]:
    """The valid production mapping with some entries changed (None: removed)."""
    env = dict(PRODUCTION)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def test_development_defaults_use_embedded_database_and_redis() -> None:
    settings = Settings.from_env({})

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

    settings = Settings.from_env({})

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
    assert Settings.from_env({"DATABASE_URL": url}).database_url == expected


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
        ("SECRET_KEY", "s" * 31),
        ("USSD_CALLBACK_KEY", "k" * 23),
    ],
)
def test_production_refuses(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env(production(**{name: value}))


def test_production_accepts_keys_of_exactly_the_minimum_length() -> None:
    settings = Settings.from_env(production(SECRET_KEY="s" * 32, USSD_CALLBACK_KEY="k" * 24))

    assert len(settings.secret_key) == 32


def test_development_accepts_what_production_refuses() -> None:
    settings = Settings.from_env({"DATABASE_URL": "sqlite:///tmp.db", "LOAD_DEMO_DATA": "true", "SECRET_KEY": "short"})

    assert settings.uses_embedded_database
    assert settings.load_demo_data


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
        Settings.from_env({name: value})


def test_lists_are_split_and_trimmed() -> None:
    settings = Settings.from_env(
        {
            "USSD_ALLOWED_IPS": "196.200.1.1, 10.0.0.0/8 ,2001:db8::/32",
            "USSD_SERVICE_CODES": "*4242#, *4243#",
            "TRUSTED_PROXIES": "1",
        }
    )

    assert settings.ussd_allowed_ips == ("196.200.1.1", "10.0.0.0/8", "2001:db8::/32")
    assert settings.ussd_service_codes == ("*4242#", "*4243#")
    assert settings.trusted_proxies == 1


def test_phone_regions_are_read_uppercase() -> None:
    assert Settings.from_env({"PHONE_REGIONS": "ma, fr ,Es"}).phone_regions == ("MA", "FR", "ES")


def test_settings_are_frozen() -> None:
    settings = Settings.from_env({})

    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.env = "production"  # type: ignore[misc]
