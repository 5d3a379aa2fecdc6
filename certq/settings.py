"""The one settings object, read once from the environment.

Nothing else in certq reads `os.environ`. Unknown `CERTQ_*` keys and invalid
values fail at start-up with a message naming the key, the value and what was
expected.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from typing import Literal

from pydantic import AliasChoices, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError

ENV_PREFIX = "CERTQ_"


class Settings(BaseSettings):
    """Configuration of every certq process (web, worker, scheduler, CLI)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    redis_url: str = Field(
        "redis://127.0.0.1:6379/0",
        validation_alias=AliasChoices("REDIS_URL", "CERTQ_REDIS_URL"),
        repr=False,
    )
    database_url: str = Field(
        "postgresql://postgres@127.0.0.1:5432/certq",
        validation_alias=AliasChoices("DATABASE_URL", "CERTQ_DATABASE_URL"),
        repr=False,
    )
    port: int = Field(
        8000, ge=1, le=65535, validation_alias=AliasChoices("PORT", "CERTQ_PORT")
    )

    #: Prefix of every Redis key certq and its queues use.
    redis_namespace: str = Field("certq", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    # HTTP
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    max_json_depth: int = Field(64, ge=2, le=512)
    public_url: str = ""
    default_result_ttl_seconds: int = Field(86_400, ge=60)
    max_result_ttl_seconds: int = Field(30 * 86_400, ge=60)
    max_wait_seconds: float = Field(30.0, ge=0)

    # Workers
    worker_threads: int = Field(2, ge=1, le=256)
    #: Port of a worker's own /metrics; 0 serves none.
    worker_metrics_port: int = Field(0, ge=0, le=65535)
    worker_heartbeat_seconds: float = Field(2.0, gt=0)
    worker_lost_after_seconds: float = Field(30.0, gt=0, le=60)
    shutdown_grace_seconds: float = Field(10.0, ge=0)
    progress_messages_kept: int = Field(20, ge=1, le=1000)
    result_compress_above_bytes: int = Field(64 * 1024, ge=1024)

    # Retries
    retry_backoff_base_ms: int = Field(1_000, ge=1)
    # A week at most: any longer and the next attempt's date could leave the
    # range datetimes can hold.
    retry_backoff_max_ms: int = Field(300_000, ge=1, le=7 * 86_400_000)
    retry_jitter_ratio: float = Field(0.2, ge=0, le=1)
    max_retries_limit: int = Field(25, ge=0, le=1000)

    # Priority and preemption
    preempt_after_seconds: float = Field(1.0, ge=0)
    max_preemptions: int = Field(3, ge=0)
    low_aging_seconds: float = Field(300.0, gt=0)
    redispatch_after_seconds: float = Field(2.0, gt=0)
    type_concurrency: dict[str, int] = Field(default_factory=dict)

    # Scheduler
    scheduler_interval_seconds: float = Field(1.0, gt=0)
    reconcile_after_seconds: float = Field(30.0, gt=0)
    audit_batch_size: int = Field(500, ge=1, le=10_000)

    # The service CA
    ca_key_passphrase: str = Field("certq-development-only", min_length=8, repr=False)
    ca_common_name: str = "certq service CA"

    @model_validator(mode="after")
    def _backoff_bounds_agree(self) -> Settings:
        if self.retry_backoff_max_ms < self.retry_backoff_base_ms:
            raise ValueError(
                "CERTQ_RETRY_BACKOFF_MAX_MS must be at least "
                "CERTQ_RETRY_BACKOFF_BASE_MS"
            )
        return self


class SettingsError(SystemExit):
    """Raised at start-up when the environment holds a bad setting."""


def _unknown_keys() -> list[str]:
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    # pydantic-settings matches names in any case, so this check does too.
    return sorted(
        k
        for k in os.environ
        if k.upper().startswith(ENV_PREFIX) and k.upper() not in known
    )


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "settings"
        key = field if field.isupper() else ENV_PREFIX + field.upper()
        lines.append(f"{key}={item.get('input')!r}: {item['msg']}")

    return "invalid configuration: " + "; ".join(lines)


def _describe_source_error(error: SourceError) -> str:
    # A mapping setting that is not JSON fails before validation, naming
    # only the field.
    found = re.search(r'field "(\w+)"', str(error))
    if found is None:
        return f"invalid configuration: {error}"

    key = ENV_PREFIX + found.group(1).upper()
    value = next((v for k, v in os.environ.items() if k.upper() == key), None)
    return f"invalid configuration: {key}={value!r}: expected a JSON object"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Parse the environment once; exit with a clear message if it is wrong."""
    unknown = _unknown_keys()
    if unknown:
        raise SettingsError(f"unknown configuration keys: {', '.join(unknown)}")

    try:
        return Settings()
    except ValidationError as error:
        raise SettingsError(_describe(error)) from None
    except SourceError as error:
        raise SettingsError(_describe_source_error(error)) from None
