"""Time as certq stores it (integer milliseconds) and shows it (RFC 3339 UTC)."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now_ms() -> int:
    """Wall-clock time in milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


def ms_to_datetime(ms: int) -> datetime:
    """A UTC datetime for a millisecond timestamp."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def ms_to_rfc3339(ms: int | None) -> str | None:
    """RFC 3339 with offset, in UTC, or None for no time."""
    if ms is None:
        return None

    return ms_to_datetime(ms).isoformat(timespec="milliseconds")


def datetime_to_ms(value: datetime) -> int:
    """Milliseconds since the epoch for an aware datetime."""
    return int(value.timestamp() * 1000)
