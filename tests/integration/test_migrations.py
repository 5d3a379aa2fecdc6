"""`certq migrate` on a real PostgreSQL: concurrent runs, reruns, append-only audit.

Each test gets its own throw-away database (certq_mig_<hex>), dropped after.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from certq.migrate import SCHEMA_DIR

pytestmark = pytest.mark.services

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/certq"
CERTQ_SCRIPT = Path(sys.executable).with_name("certq")
MIGRATION_IDS = sorted(path.stem for path in SCHEMA_DIR.glob("*.sql"))
CONCURRENT_RUNS = 4


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture
def empty_database_url() -> Iterator[str]:
    """A new, empty database on the server at DATABASE_URL, dropped afterwards."""
    server_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    name = "certq_mig_" + uuid.uuid4().hex[:12]
    admin_url = _with_database(server_url, "postgres")
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(server_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _start_migrate(database_url: str) -> subprocess.Popen[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "CERTQ_LOG_FORMAT": "json"}
    return subprocess.Popen(
        [str(CERTQ_SCRIPT), "migrate"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _migrate(database_url: str) -> str:
    process = _start_migrate(database_url)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    return output


def _reported_applied(output: str) -> list[str]:
    """The ids one run says it applied, from its `schema.migrated` log line."""
    for line in output.splitlines():
        if line.startswith("{") and '"schema.migrated"' in line:
            applied: list[str] = json.loads(line)["applied"]
            return applied
    raise AssertionError(f"no schema.migrated line in:\n{output}")


def _applied_ids(database_url: str) -> list[str]:
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT migration_id FROM _yoyo_migration ORDER BY migration_id"
        ).fetchall()
    return [row[0] for row in rows]


def _apply_counts(database_url: str) -> dict[str, int]:
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT migration_id, count(*) FROM _yoyo_log"
            " WHERE operation = 'apply' GROUP BY migration_id"
        ).fetchall()
    return {migration_id: count for migration_id, count in rows}


def _tables(database_url: str) -> set[str]:
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = 'public'"
        ).fetchall()
    return {row[0] for row in rows}


def test_schema_directory_holds_the_expected_migrations() -> None:
    """The ids the other tests count are the files of schema/."""

    ids = MIGRATION_IDS

    assert ids == [
        "0001_tasks",
        "0002_task_events",
        "0003_api_keys",
        "0004_ca",
        "0005_task_namespace",
    ]


def test_concurrent_migrate_runs_all_succeed_and_apply_each_migration_once(
    empty_database_url: str,
) -> None:
    """Four `certq migrate` at once: all exit 0, each migration applied once."""
    processes = [_start_migrate(empty_database_url) for _ in range(CONCURRENT_RUNS)]

    outputs = [process.communicate(timeout=120)[0] for process in processes]

    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output
    reported = sorted(i for output in outputs for i in _reported_applied(output))
    assert reported == MIGRATION_IDS, "each migration applied by exactly one run"
    assert _applied_ids(empty_database_url) == MIGRATION_IDS
    assert _apply_counts(empty_database_url) == dict.fromkeys(MIGRATION_IDS, 1)
    assert {"tasks", "task_events", "api_keys", "certificate_authority"} <= _tables(
        empty_database_url
    )


def test_second_migrate_run_applies_nothing(empty_database_url: str) -> None:
    """A rerun finds every migration applied and leaves the schema as it was."""
    _migrate(empty_database_url)
    tables_before = _tables(empty_database_url)

    output = _migrate(empty_database_url)

    assert _reported_applied(output) == []
    assert _applied_ids(empty_database_url) == MIGRATION_IDS
    assert _apply_counts(empty_database_url) == dict.fromkeys(MIGRATION_IDS, 1)
    assert _tables(empty_database_url) == tables_before


@pytest.fixture
def one_event(
    empty_database_url: str,
) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A migrated database holding one task and one audit event."""
    _migrate(empty_database_url)
    task_id = uuid.uuid4()
    with psycopg.connect(empty_database_url, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO tasks (task_id, user_id, task_type, priority, status,"
            " params, max_attempts, result_ttl_seconds, created_at, updated_at)"
            " VALUES (%s, 'alice', 'diagnostic.noop', 'normal', 'pending',"
            " '{}', 1, 60, now(), now())",
            (task_id,),
        )
        connection.execute(
            "INSERT INTO task_events (task_id, seq, kind, status, attempt, at)"
            " VALUES (%s, 1, 'submitted', 'pending', 0, now())",
            (task_id,),
        )
        yield connection


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE task_events SET kind = 'forged'",
        "DELETE FROM task_events",
        "TRUNCATE task_events",
    ],
    ids=["update", "delete", "truncate"],
)
def test_task_events_refuse_update_delete_and_truncate(
    one_event: psycopg.Connection[tuple[object, ...]], statement: str
) -> None:
    """The audit trail is append-only in the database itself."""

    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        one_event.execute(statement)

    rows = one_event.execute("SELECT seq, kind FROM task_events").fetchall()
    assert rows == [(1, "submitted")]


@pytest.mark.slow
def test_migrate_killed_while_holding_the_lock_does_not_block_later_runs(
    empty_database_url: str,
) -> None:
    """A run that died mid-migration must not stop every later `certq migrate`.

    yoyo's lock is a committed row in yoyo_lock, deleted only by the run that
    took it; a run SIGKILLed in between (OOM, a deploy deadline) leaves the row
    behind. The row is planted here exactly as yoyo writes it, with the pid
    of a process that has exited. Regression: every later run, even one with
    nothing to apply, waited 10 s and failed with LockTimeout.
    """
    _migrate(empty_database_url)
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    with psycopg.connect(empty_database_url, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO yoyo_lock (locked, ctime, pid) VALUES (1, now(), %s)",
            (exited.pid,),
        )

    output = _migrate(empty_database_url)

    assert _reported_applied(output) == []
