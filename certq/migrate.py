"""Apply the forward-only SQL migrations in `schema/` with yoyo.

Every run first takes a PostgreSQL advisory lock, so several processes may
run `certq migrate` at once: one applies, the others wait (as long as it
takes) and find nothing to do. The server releases that lock when its
session ends, so a killed run cannot block later ones; yoyo's own lock is a
table row that a killed run leaves behind, which the lock holder clears.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import structlog
from yoyo import get_backend, read_migrations

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schema"
#: The advisory lock key of migrations ("certq" in ASCII).
MIGRATION_LOCK_KEY = 0x6365727471

log = structlog.get_logger(__name__)


def _yoyo_url(database_url: str) -> str:
    scheme, _, rest = database_url.partition("://")
    if scheme not in {"postgres", "postgresql"}:
        raise ValueError(f"DATABASE_URL scheme {scheme!r} is not postgresql")

    return "postgresql+psycopg://" + rest


def apply_migrations(database_url: str) -> list[str]:
    """Apply every pending migration; return the ids applied."""
    with psycopg.connect(database_url, autocommit=True) as guard:
        guard.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        _clear_stale_yoyo_lock(guard)
        backend = get_backend(_yoyo_url(database_url))
        migrations = read_migrations(str(SCHEMA_DIR))
        with backend.lock():
            pending = backend.to_apply(migrations)
            backend.apply_migrations(pending)
    applied = [m.id for m in pending]
    log.info("schema.migrated", applied=applied)

    return applied


def _clear_stale_yoyo_lock(guard: psycopg.Connection[tuple[object, ...]]) -> None:
    # Only advisory-lock holders take yoyo's lock, so a row seen now belongs
    # to a run that died holding it.
    exists = guard.execute("SELECT to_regclass('yoyo_lock') IS NOT NULL").fetchone()
    if exists is not None and exists[0]:
        guard.execute("DELETE FROM yoyo_lock")
