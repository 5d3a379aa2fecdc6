"""Text that must be storable anywhere certq keeps it (JSONB refuses NUL)."""

from __future__ import annotations


def clean_text(value: str) -> str:
    """Replace NUL and lone surrogates, which PostgreSQL JSONB cannot hold."""
    return (
        value.replace("\x00", "\ufffd")
        .encode("utf-8", errors="replace")
        .decode("utf-8", errors="replace")
    )
