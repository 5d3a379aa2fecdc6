"""`GET /tasks`: the task history from PostgreSQL, in keyset pages."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime

import asyncpg
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from certq.errors import Forbidden, ValidationFailed
from certq.task_repository import TaskFilter
from service.models import ListQuery, in_utc
from service.outage import backing
from service.problems import field_errors
from service.services import services
from service.views import json_response, summary_view


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created, _, task_id = (
            base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        )
        return in_utc(datetime.fromisoformat(created)), str(uuid.UUID(task_id))
    except ValueError:
        raise ValidationFailed(
            "the cursor is not one this API gave out",
            [{"loc": ["query", "cursor"], "msg": "invalid cursor"}],
        ) from None


def _encode_cursor(row: asyncpg.Record) -> str:
    raw = f"{row['created_at'].isoformat()}|{row['task_id']}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


async def list_tasks(request: Request) -> Response:
    """Task history from PostgreSQL, newest first, keyset-paginated."""
    svc = services(request)
    owner = await svc.auth.owner(request)
    try:
        query = ListQuery.model_validate(dict(request.query_params))
    except ValidationError as error:
        raise ValidationFailed(
            "the query is not valid", field_errors(error, ("query",))
        ) from None
    if not owner.is_admin and query.user_id not in (None, owner.user_id):
        raise Forbidden("a user key sees only its own tasks; drop user_id")

    user_id = query.user_id if owner.is_admin else owner.user_id
    filters = TaskFilter(
        user_id=user_id,
        status=query.status.value if query.status else None,
        task_type=query.task_type,
        created_after=query.created_after,
        created_before=query.created_before,
        cursor=_decode_cursor(query.cursor) if query.cursor else None,
        limit=query.limit,
    )
    with backing("PostgreSQL"):
        rows = await svc.history.page(filters)
    next_cursor = _encode_cursor(rows[-1]) if len(rows) == query.limit else None

    return json_response(
        {"items": [summary_view(r) for r in rows], "next_cursor": next_cursor}
    )
