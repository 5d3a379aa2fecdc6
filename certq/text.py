"""Text that must be storable anywhere certq keeps it (JSONB refuses NUL)."""

from __future__ import annotations

import re

# NUL, and surrogates standing alone (no valid str pairs them).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def clean_text(value: str) -> str:
    """Replace NUL and lone surrogates, which PostgreSQL JSONB cannot hold."""
    return _UNSTORABLE.sub("\ufffd", value)


def is_storable(value: str) -> bool:
    """True when `value` holds neither NUL nor a lone surrogate."""
    return _UNSTORABLE.search(value) is None
