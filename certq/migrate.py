"""Apply the forward-only SQL migrations in `schema/` with yoyo.

yoyo takes a lock in the database, so several processes may run `certq
migrate` at once: one applies, the others wait and find nothing to do.
"""

from __future__ import annotations

from pathlib import Path

import structlog
from yoyo import get_backend, read_migrations

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schema"

log = structlog.get_logger(__name__)


def _yoyo_url(database_url: str) -> str:
    scheme, _, rest = database_url.partition("://")
    if scheme not in {"postgres", "postgresql"}:
        raise ValueError(f"DATABASE_URL scheme {scheme!r} is not postgresql")

    return "postgresql+psycopg://" + rest


def apply_migrations(database_url: str) -> list[str]:
    """Apply every pending migration; return the ids applied."""
    backend = get_backend(_yoyo_url(database_url))
    migrations = read_migrations(str(SCHEMA_DIR))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    applied = [m.id for m in pending]
    log.info("schema.migrated", applied=applied)

    return applied
