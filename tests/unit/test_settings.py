"""Settings: defaults, CERTQ_ keys, conventional names, and clear refusals."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from certq.settings import ENV_PREFIX, Settings, SettingsError, get_settings

CONVENTIONAL_KEYS = ("REDIS_URL", "DATABASE_URL", "PORT")


@pytest.fixture(autouse=True)
def empty_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No certq keys in the environment, and no settings cached from before."""
    for key in list(os.environ):
        if key.upper().startswith(ENV_PREFIX) or key in CONVENTIONAL_KEYS:
            monkeypatch.delenv(key)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_defaults_apply_when_the_environment_holds_no_certq_keys() -> None:
    """With nothing set, the documented local defaults are used."""

    settings = get_settings()

    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.database_url == "postgresql://postgres@127.0.0.1:5432/certq"
    assert settings.port == 8000
    assert settings.redis_namespace == "certq"
    assert settings.worker_threads == 2
    assert settings.retry_backoff_base_ms == 1_000
    assert settings.retry_backoff_max_ms == 300_000
    assert settings.max_body_bytes == 8 * 1024 * 1024
    assert settings.type_concurrency == {}


def test_certq_prefixed_keys_set_their_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    """CERTQ_<FIELD> sets the field, parsed to its type (JSON for a mapping)."""
    monkeypatch.setenv("CERTQ_WORKER_THREADS", "8")
    monkeypatch.setenv("CERTQ_LOG_FORMAT", "json")
    monkeypatch.setenv("CERTQ_PREEMPT_AFTER_SECONDS", "0.5")
    monkeypatch.setenv("CERTQ_TYPE_CONCURRENCY", '{"certificate.issue": 3}')

    settings = get_settings()

    assert settings.worker_threads == 8
    assert settings.log_format == "json"
    assert settings.preempt_after_seconds == 0.5
    assert settings.type_concurrency == {"certificate.issue": 3}


def test_conventional_redis_url_database_url_and_port_are_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """REDIS_URL, DATABASE_URL and PORT work without the CERTQ_ prefix."""
    monkeypatch.setenv("REDIS_URL", "redis://cache.internal:6380/3")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@db.internal:5433/prod")
    monkeypatch.setenv("PORT", "9090")

    settings = get_settings()

    assert settings.redis_url == "redis://cache.internal:6380/3"
    assert settings.database_url == "postgresql://app@db.internal:5433/prod"
    assert settings.port == 9090


def test_prefixed_urls_are_read_and_the_conventional_name_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """CERTQ_REDIS_URL works alone; when REDIS_URL is also set, REDIS_URL wins."""
    monkeypatch.setenv("CERTQ_REDIS_URL", "redis://prefixed:6379/1")
    monkeypatch.setenv("CERTQ_DATABASE_URL", "postgresql://prefixed/certq")
    alone = get_settings()
    get_settings.cache_clear()
    monkeypatch.setenv("REDIS_URL", "redis://conventional:6379/2")

    both = get_settings()

    assert alone.redis_url == "redis://prefixed:6379/1"
    assert alone.database_url == "postgresql://prefixed/certq"
    assert both.redis_url == "redis://conventional:6379/2"


def test_settings_are_read_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """A later change to the environment does not change the settings object."""
    first = get_settings()
    monkeypatch.setenv("CERTQ_WORKER_THREADS", "9")

    second = get_settings()

    assert second is first
    assert second.worker_threads == 2


def test_unknown_certq_key_fails_at_start_naming_the_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A misspelt CERTQ_ key is refused, not silently dropped."""
    monkeypatch.setenv("CERTQ_WORKER_THRADS", "4")

    with pytest.raises(SettingsError, match="CERTQ_WORKER_THRADS"):
        get_settings()


def test_certq_port_is_either_honoured_or_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """CERTQ_PORT is not silently ignored (regression: it passed the unknown-key
    check but only PORT was read, so the service listened on 8000)."""
    monkeypatch.setenv("CERTQ_PORT", "9191")

    try:
        settings = get_settings()
    except SettingsError as error:
        assert "CERTQ_PORT" in str(error)
        return

    assert settings.port == 9191


def test_lowercase_keys_are_checked_or_ignored_never_half_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A lowercase misspelt key is not dropped while a lowercase right one works.

    Regression: pydantic-settings reads `certq_worker_threads`, but the
    unknown-key check only looks at upper case, so `certq_worker_thrads`
    passed silently.
    """
    monkeypatch.setenv("certq_worker_threads", "7")
    monkeypatch.setenv("certq_worker_thrads", "7")

    try:
        settings = get_settings()
    except SettingsError as error:
        assert "WORKER_THRADS" in str(error).upper()
        return

    assert settings.worker_threads == 2, "a lowercase key was read, its typo not"


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("CERTQ_WORKER_THREADS", "zero", "valid integer"),
        ("CERTQ_WORKER_THREADS", "0", "greater than or equal to 1"),
        ("PORT", "70000", "less than or equal to 65535"),
        ("PORT", "http", "valid integer"),
        ("CERTQ_LOG_LEVEL", "verbose", "'debug', 'info', 'warning' or 'error'"),
        ("CERTQ_REDIS_NAMESPACE", "has space", "match pattern"),
        ("CERTQ_RETRY_JITTER_RATIO", "1.5", "less than or equal to 1"),
        ("CERTQ_WORKER_LOST_AFTER_SECONDS", "-1", "greater than 0"),
    ],
)
def test_invalid_value_fails_naming_the_key_the_value_and_the_expectation(
    monkeypatch: pytest.MonkeyPatch, key: str, value: str, expected: str
) -> None:
    """The start-up message says which key, what it held and what was wanted."""
    monkeypatch.setenv(key, value)

    with pytest.raises(SettingsError) as raised:
        get_settings()

    message = str(raised.value)
    assert f"{key}={value!r}" in message
    assert expected in message


def test_malformed_json_mapping_fails_as_a_settings_error_naming_the_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A mapping that is not JSON exits with a message naming key and value.

    Regression: pydantic-settings raised its own SettingsError (a traceback,
    not certq's one-line SystemExit) because only ValidationError was caught.
    """
    monkeypatch.setenv("CERTQ_TYPE_CONCURRENCY", "certificate.issue=3")

    with pytest.raises(SettingsError) as raised:
        get_settings()

    assert "CERTQ_TYPE_CONCURRENCY" in str(raised.value)
    assert "certificate.issue=3" in str(raised.value)


def test_backoff_cap_below_the_base_fails_naming_both_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A maximum backoff smaller than the base is a contradiction, refused."""
    monkeypatch.setenv("CERTQ_RETRY_BACKOFF_BASE_MS", "5000")
    monkeypatch.setenv("CERTQ_RETRY_BACKOFF_MAX_MS", "100")

    with pytest.raises(SettingsError) as raised:
        get_settings()

    assert "CERTQ_RETRY_BACKOFF_MAX_MS" in str(raised.value)
    assert "CERTQ_RETRY_BACKOFF_BASE_MS" in str(raised.value)


def test_settings_can_be_built_directly_for_tests_and_tools() -> None:
    """Keyword arguments override the environment, as the test clusters rely on."""

    settings = Settings(worker_threads=5, retry_backoff_base_ms=10)

    assert settings.worker_threads == 5
    assert settings.retry_backoff_base_ms == 10


def test_ca_key_passphrase_never_shows_in_the_settings_repr(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A logged or traceback-printed Settings does not reveal the CA passphrase.

    Regression: the field had no repr=False (nor SecretStr), so any assertion
    message or log of the settings printed the passphrase in clear.
    """
    monkeypatch.setenv("CERTQ_CA_KEY_PASSPHRASE", "correct-horse-battery")

    settings = get_settings()

    assert "correct-horse-battery" not in repr(settings)
    assert "correct-horse-battery" not in str(settings)
