"""PostgreSQL access for tasks and their permanent audit trail."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from certq.clock import ms_to_datetime
from certq.states import TERMINAL

_INSERT_TASK = """
WITH task AS (
    INSERT INTO tasks (
        task_id, user_id, task_type, priority, status, params, max_attempts,
        result_ttl_seconds, idempotency_key, request_id, created_at, updated_at,
        redis_namespace
    )
    VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8, $9, $10, $10, $12)
)
INSERT INTO task_events (task_id, seq, kind, status, attempt, at, detail)
VALUES ($1, 1, 'submitted', 'pending', 0, $10, $11)
"""

_INSERT_EVENTS = """
INSERT INTO task_events (task_id, seq, kind, status, attempt, at, detail)
SELECT e.task_id, e.seq, e.kind, e.status, e.attempt, e.at, e.detail
FROM unnest(
    $1::uuid[], $2::int[], $3::text[], $4::text[], $5::int[],
    $6::timestamptz[], $7::jsonb[]
) AS e(task_id, seq, kind, status, attempt, at, detail)
WHERE EXISTS (SELECT 1 FROM tasks t WHERE t.task_id = e.task_id)
ON CONFLICT (task_id, seq) DO NOTHING
"""

# Terminal rows never change again, and an older event never overwrites a
# newer one (last_seq), whatever order batches arrive in.
_UPDATE_SUMMARIES = """
UPDATE tasks AS t SET
    status = s.status,
    attempts = greatest(t.attempts, s.attempts),
    started_at = coalesce(t.started_at, s.started_at),
    finished_at = coalesce(s.finished_at, t.finished_at),
    error = coalesce(s.error, t.error),
    last_seq = s.seq,
    updated_at = now()
FROM unnest(
    $1::uuid[], $2::int[], $3::text[], $4::int[], $5::timestamptz[],
    $6::timestamptz[], $7::jsonb[]
) AS s(task_id, seq, status, attempts, started_at, finished_at, error)
WHERE t.task_id = s.task_id
  AND s.seq > t.last_seq
  AND t.status NOT IN ('completed', 'failed', 'cancelled')
"""

_LIST_COLUMNS = """
task_id, user_id, task_type, priority, status, attempts, max_attempts,
created_at, started_at, finished_at, error
"""


@dataclass(frozen=True)
class TaskRow:
    """The values a new task is recorded with."""

    task_id: str
    user_id: str
    task_type: str
    priority: str
    params: Any
    max_attempts: int
    result_ttl_seconds: int
    idempotency_key: str | None
    request_id: str
    created_at: datetime
    redis_namespace: str


@dataclass(frozen=True)
class TaskFilter:
    """The filters and page of `GET /tasks`."""

    user_id: str | None = None
    status: str | None = None
    task_type: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    cursor: tuple[datetime, str] | None = None
    limit: int = 50


def _summaries(events: list[dict[str, Any]]) -> list[list[Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for event in sorted(events, key=lambda e: (e["task_id"], e["seq"])):
        row = latest.setdefault(event["task_id"], {"started_at": None, "error": None})
        row.update(seq=event["seq"], status=event["status"], attempts=event["attempt"])
        at = ms_to_datetime(int(event["at"]))
        if event["kind"] == "started" and row["started_at"] is None:
            row["started_at"] = at
        row["finished_at"] = at if event["status"] in TERMINAL else None
        if event["kind"] == "failed":
            row["error"] = event["detail"]

    columns: list[list[Any]] = [[] for _ in range(7)]
    for task_id, row in latest.items():
        values = (
            uuid.UUID(task_id),
            row["seq"],
            row["status"],
            row["attempts"],
            row["started_at"],
            row["finished_at"],
            row["error"],
        )
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    return columns


class TaskRepository:
    """The `tasks` and `task_events` tables."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def ping(self) -> None:
        """Raise if PostgreSQL does not answer."""
        await self._pool.fetchval("SELECT 1")

    async def insert(self, row: TaskRow) -> None:
        """Record a new task and its `submitted` audit event together."""
        await self._pool.execute(
            _INSERT_TASK,
            uuid.UUID(row.task_id),
            row.user_id,
            row.task_type,
            row.priority,
            row.params,
            row.max_attempts,
            row.result_ttl_seconds,
            row.idempotency_key,
            row.request_id or None,
            row.created_at,
            {"priority": row.priority, "request_id": row.request_id},
            row.redis_namespace,
        )

    async def get(self, task_id: str) -> asyncpg.Record | None:
        """One task's row, or None."""
        return await self._pool.fetchrow(
            "SELECT * FROM tasks WHERE task_id = $1", uuid.UUID(task_id)
        )

    async def page(self, query: TaskFilter) -> list[asyncpg.Record]:
        """A page of task summaries, newest first, in keyset order."""
        clauses: list[str] = []
        args: list[Any] = []
        for column, op, value in (
            ("user_id", "=", query.user_id),
            ("status", "=", query.status),
            ("task_type", "=", query.task_type),
            ("created_at", ">", query.created_after),
            ("created_at", "<", query.created_before),
        ):
            if value is not None:
                args.append(value)
                clauses.append(f"{column} {op} ${len(args)}")
        if query.cursor is not None:
            args.extend([query.cursor[0], uuid.UUID(query.cursor[1])])
            clauses.append(f"(created_at, task_id) < (${len(args) - 1}, ${len(args)})")
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        args.append(query.limit)
        sql = (
            f"SELECT {_LIST_COLUMNS} FROM tasks {where} "
            f"ORDER BY created_at DESC, task_id DESC LIMIT ${len(args)}"
        )

        return list(await self._pool.fetch(sql, *args))

    async def events(self, task_id: str) -> list[asyncpg.Record]:
        """The audit trail of one task, in order."""
        return list(
            await self._pool.fetch(
                "SELECT seq, kind, status, attempt, at, detail FROM task_events "
                "WHERE task_id = $1 ORDER BY seq",
                uuid.UUID(task_id),
            )
        )

    async def write_events(self, events: list[dict[str, Any]]) -> None:
        """Append a batch of audit events and bring task summaries up to date."""
        if not events:
            return

        columns: list[list[Any]] = [[] for _ in range(7)]
        for e in events:
            values = (
                uuid.UUID(e["task_id"]),
                e["seq"],
                e["kind"],
                e["status"],
                e["attempt"],
                ms_to_datetime(int(e["at"])),
                e["detail"] if isinstance(e["detail"], dict) else {},
            )
            for column, value in zip(columns, values, strict=True):
                column.append(value)

        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute(_INSERT_EVENTS, *columns)
            await connection.execute(_UPDATE_SUMMARIES, *_summaries(events))

    async def unfinished(
        self, namespace: str, created_before: datetime
    ) -> list[asyncpg.Record]:
        """Tasks of one Redis namespace PostgreSQL still sees as unfinished."""
        return list(
            await self._pool.fetch(
                "SELECT * FROM tasks WHERE status IN ('pending', 'running') "
                "AND redis_namespace = $1 AND created_at < $2 "
                "ORDER BY created_at LIMIT 1000",
                namespace,
                created_before,
            )
        )
