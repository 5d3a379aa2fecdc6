"""Routes of `/tasks`: submit, read, wait, cancel, list, result, events."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import orjson
import redis.exceptions
import structlog
from pydantic import BaseModel, ValidationError
from starlette.endpoints import HTTPEndpoint
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from actors.operation import REGISTRY, OperationSpec
from certq import metrics
from certq.clock import ms_to_datetime, now_ms
from certq.errors import (
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    ResultExpired,
    ResultNotReady,
    TaskAlreadyFinished,
    TaskNotFound,
    ValidationFailed,
)
from certq.key_repository import ApiKeyOwner
from certq.result_codec import decode_result
from certq.script_calls import NewTask
from certq.states import TERMINAL, Priority, TaskStatus
from certq.task_record import TaskRecord
from certq.task_repository import TaskRow
from certq.task_store import IdempotencyClaim, QueueSnapshot
from service.body import find_unstorable, read_json
from service.estimate import estimate_seconds
from service.models import SubmitRequest
from service.outage import backing
from service.problems import field_errors
from service.routes import history
from service.services import Services, base_url, services
from service.views import (
    event_view,
    json_response,
    live_task_view,
    stored_task_view,
    task_urls,
)
from service.watch import client_left

log = structlog.get_logger(__name__)

_JSON = "application/json"
_IDEMPOTENCY_TTL_SECONDS = 86_400
#: How long a replay waits for the first request of its key to be recorded.
_IN_FLIGHT_WAIT_SECONDS = 2.0
_RESULT_CHUNK_BYTES = 64 * 1024


def _parse_submit(body: Any) -> SubmitRequest:
    if not isinstance(body, dict):
        raise ValidationFailed(
            "the body must be a JSON object", [{"loc": [], "msg": "expected an object"}]
        )
    try:
        return SubmitRequest.model_validate(body)
    except ValidationError as error:
        raise ValidationFailed(
            "the task request is not valid", field_errors(error)
        ) from None


def _check_limits(request_: SubmitRequest, svc: Services) -> None:
    settings = svc.settings
    errors = []
    retries = request_.max_retries
    if retries is not None and not 0 <= retries <= settings.max_retries_limit:
        errors.append(
            {
                "loc": ["max_retries"],
                "msg": f"must be between 0 and {settings.max_retries_limit}",
            }
        )
    ttl = request_.result_ttl
    if ttl is not None and not 60 <= ttl <= settings.max_result_ttl_seconds:
        errors.append(
            {
                "loc": ["result_ttl"],
                "msg": f"must be 60 to {settings.max_result_ttl_seconds} seconds",
            }
        )
    if request_.webhook is not None:
        errors.append(
            {"loc": ["webhook"], "msg": "webhook delivery is not available yet"}
        )
    if errors:
        raise ValidationFailed("the task request is not valid", errors)


def _validate_params(
    request_: SubmitRequest, max_depth: int
) -> tuple[OperationSpec, BaseModel]:
    spec = REGISTRY.get(request_.task_type)
    if spec is None:
        known = ", ".join(sorted(REGISTRY))
        raise ValidationFailed(
            f"unknown task_type {request_.task_type!r}",
            [{"loc": ["task_type"], "msg": f"must be one of: {known}"}],
        )
    unstorable = find_unstorable(request_.params, max_depth, ("params",))
    if unstorable:
        raise ValidationFailed(
            "the params hold values that cannot be stored", unstorable
        )
    try:
        params = spec.parse(request_.params)
    except ValidationError as error:
        raise ValidationFailed(
            f"the params of {spec.task_type} are not valid",
            field_errors(error, ("params",)),
        ) from None
    return spec, params


async def _snapshot(svc: Services) -> QueueSnapshot:
    lost_after_ms = int(svc.settings.worker_lost_after_seconds * 1000)
    try:
        return await svc.tasks.snapshot(lost_after_ms)
    except (OSError, redis.exceptions.RedisError):
        return QueueSnapshot(
            waiting={p: 0 for p in Priority}, running=0, worker_slots=0, workers=[]
        )


async def submit_task(request: Request) -> Response:
    """Accept a task: record it durably, enqueue it, answer 202 at once."""
    svc = services(request)
    owner = await svc.auth.owner(request)
    body = await read_json(request, svc.settings.max_body_bytes)
    submit = _parse_submit(body)
    _check_limits(submit, svc)
    spec, params = _validate_params(submit, svc.settings.max_json_depth)

    idempotency_key = request.headers.get("idempotency-key")
    task_id = str(uuid.uuid4())
    if idempotency_key:
        fingerprint = _fingerprint(svc, submit, spec, params)
        claim = IdempotencyClaim(task_id, fingerprint)
        existing = await _claim_idempotency(svc, owner, idempotency_key, claim)
        if existing is not None:
            return await _replay(request, svc, owner, existing, claim)

    size = spec.size(params)
    estimate = estimate_seconds(spec, size, submit.priority, await _snapshot(svc))
    task = _new_task(svc, submit, spec, owner, task_id, estimate, request)
    await _record(svc, task, spec.redact(submit.params), idempotency_key)
    await _enqueue(svc, task)
    metrics.TASKS_SUBMITTED.labels(spec.task_type, submit.priority.value).inc()
    log.info(
        "task.submitted",
        task_id=task_id,
        task_type=spec.task_type,
        priority=submit.priority.value,
        estimated_seconds=estimate,
    )

    return _accepted(request, task)


def _fingerprint(
    svc: Services, submit: SubmitRequest, spec: OperationSpec, params: BaseModel
) -> str:
    """A digest of the request as it will run: a field left out and the same
    field sent with its default value give the same digest."""
    effective = {
        "task_type": spec.task_type,
        "params": params.model_dump(mode="json"),
        "priority": submit.priority.value,
        "webhook": submit.webhook.model_dump(mode="json") if submit.webhook else None,
        "max_retries": _max_retries(submit, spec),
        "result_ttl": _result_ttl(submit, svc),
    }
    canonical = orjson.dumps(effective, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()[:32]


def _max_retries(submit: SubmitRequest, spec: OperationSpec) -> int:
    return spec.max_retries if submit.max_retries is None else submit.max_retries


def _result_ttl(submit: SubmitRequest, svc: Services) -> int:
    return submit.result_ttl or svc.settings.default_result_ttl_seconds


async def _claim_idempotency(
    svc: Services, owner: ApiKeyOwner, key: str, claim: IdempotencyClaim
) -> IdempotencyClaim | None:
    if len(key) > 255:
        raise ValidationFailed(
            "the Idempotency-Key header is too long",
            [{"loc": ["header", "Idempotency-Key"], "msg": "at most 255 characters"}],
        )
    with backing("Redis"):
        return await svc.tasks.claim_idempotency_key(
            owner.user_id, key, claim, _IDEMPOTENCY_TTL_SECONDS
        )


async def _replay(
    request: Request,
    svc: Services,
    owner: ApiKeyOwner,
    existing: IdempotencyClaim,
    claim: IdempotencyClaim,
) -> Response:
    if existing.fingerprint != claim.fingerprint:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was first sent with a different request",
            [{"loc": ["header", "Idempotency-Key"], "msg": "used for another request"}],
        )

    # The first request may still be between its claim and its record.
    # Known gap: if its web process died in that window, the key names a
    # task that never existed and answers 409 until it expires (24 h).
    # Storing the claim's time and taking over claims older than a request
    # can last would close it.
    deadline = asyncio.get_running_loop().time() + _IN_FLIGHT_WAIT_SECONDS
    while True:
        try:
            view = await _load_view(request, svc, owner, existing.task_id)
        except TaskNotFound:
            if asyncio.get_running_loop().time() > deadline:
                raise IdempotencyKeyInUse(
                    "a request with this Idempotency-Key is still being recorded; "
                    "retry shortly"
                ) from None
            await asyncio.sleep(0.05)
            continue
        return json_response(
            view, 200, {"Location": view["status_url"], "Idempotent-Replayed": "true"}
        )


def _new_task(
    svc: Services,
    submit: SubmitRequest,
    spec: OperationSpec,
    owner: ApiKeyOwner,
    task_id: str,
    estimate: float,
    request: Request,
) -> NewTask:
    return NewTask(
        task_id=task_id,
        user_id=owner.user_id,
        task_type=spec.task_type,
        priority=submit.priority,
        params_json=orjson.dumps(spec.redact(submit.params)),
        secrets_json=orjson.dumps(spec.secrets(submit.params)),
        max_attempts=_max_retries(submit, spec) + 1,
        result_ttl_seconds=_result_ttl(submit, svc),
        time_limit_ms=int(spec.time_limit_seconds * 1000),
        estimated_seconds=estimate,
        created_at_ms=now_ms(),
        request_id=request.state.request_id,
    )


async def _record(
    svc: Services, task: NewTask, params: dict[str, Any], key: str | None
) -> None:
    row = TaskRow(
        task_id=task.task_id,
        user_id=task.user_id,
        task_type=task.task_type,
        priority=task.priority.value,
        params=params,
        max_attempts=task.max_attempts,
        result_ttl_seconds=task.result_ttl_seconds,
        idempotency_key=key,
        request_id=task.request_id,
        created_at=ms_to_datetime(task.created_at_ms),
        redis_namespace=svc.settings.redis_namespace,
    )
    try:
        with backing("PostgreSQL"):
            await svc.history.insert(row)
    except Exception:
        # The key must not point at a task that was never recorded.
        if key:
            with contextlib.suppress(OSError, redis.exceptions.RedisError):
                await svc.tasks.release_idempotency_key(task.user_id, key)
        raise


async def _enqueue(svc: Services, task: NewTask) -> None:
    try:
        await svc.tasks.submit(task)
    except (OSError, redis.exceptions.RedisError) as error:
        # The task is durably recorded: the scheduler enqueues it once Redis
        # is back (restore_from_database), so the 202 still holds.
        log.warning("task.enqueue_deferred", task_id=task.task_id, error=str(error))


def _accepted(request: Request, task: NewTask) -> Response:
    base = base_url(request)
    view: dict[str, Any] = {
        "task_id": task.task_id,
        "status": "pending",
        "task_type": task.task_type,
        "priority": task.priority.value,
        "max_attempts": task.max_attempts,
        "estimated_time": task.estimated_seconds,
        "estimated_completion_at": ms_to_datetime(
            task.created_at_ms + int(task.estimated_seconds * 1000)
        ).isoformat(timespec="milliseconds"),
        "created_at": ms_to_datetime(task.created_at_ms).isoformat(
            timespec="milliseconds"
        ),
        **task_urls(base, task.task_id),
    }
    retry_after = max(1, min(10, math.ceil(task.estimated_seconds)))
    return json_response(
        view, 202, {"Location": view["status_url"], "Retry-After": str(retry_after)}
    )


def _task_id(request: Request) -> str:
    raw = request.path_params["task_id"]
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise TaskNotFound(f"no task {raw!r}") from None


def _visible(owner: ApiKeyOwner, user_id: str) -> bool:
    return owner.is_admin or owner.user_id == user_id


async def _load_record(
    svc: Services, owner: ApiKeyOwner, task_id: str
) -> TaskRecord | None:
    with backing("Redis"):
        record = await svc.tasks.read(task_id)
    if record is not None and not _visible(owner, record.user_id):
        raise TaskNotFound(f"no task {task_id!r}")
    return record


async def _load_row(svc: Services, owner: ApiKeyOwner, task_id: str) -> asyncpg.Record:
    with backing("PostgreSQL"):
        row = await svc.history.get(task_id)
    if row is None or not _visible(owner, row["user_id"]):
        raise TaskNotFound(f"no task {task_id!r}")
    return row


async def _load_view(
    request: Request, svc: Services, owner: ApiKeyOwner, task_id: str
) -> dict[str, Any]:
    record = await _load_record(svc, owner, task_id)
    return await _view(request, svc, owner, task_id, record)


async def _view(
    request: Request,
    svc: Services,
    owner: ApiKeyOwner,
    task_id: str,
    record: TaskRecord | None,
) -> dict[str, Any]:
    base = base_url(request)
    if record is None:
        return stored_task_view(await _load_row(svc, owner, task_id), base)

    view = live_task_view(record, base)
    if record.status == TaskStatus.COMPLETED:
        view["result"], view["result_expired"] = await _inline_result(svc, record)
    return view


async def _inline_result(svc: Services, record: TaskRecord) -> tuple[Any, bool]:
    limit = svc.settings.result_compress_above_bytes
    if record.result_bytes is not None and record.result_bytes > limit:
        return None, False

    with backing("Redis"):
        stored = await svc.tasks.read_result(record.task_id)
    if stored is None:
        return None, True
    return orjson.loads(decode_result(stored)), False


async def get_task(request: Request) -> Response:
    """The task's status, progress, result or error; `?wait=N` long-polls."""
    svc = services(request)
    owner = await svc.auth.owner(request)
    task_id = _task_id(request)
    _refuse_unknown_query(request, {"wait"})
    wait = _wait_seconds(request, svc.settings.max_wait_seconds)
    record = await _load_record(svc, owner, task_id)
    if (
        wait > 0
        and record is not None
        and record.status not in TERMINAL
        and await _wait_for_change(request, svc, record, wait)
    ):
        record = await _load_record(svc, owner, task_id)

    return json_response(await _view(request, svc, owner, task_id, record))


#: Seconds in ASCII digits; float() would also take "1_0", "nan" and Arabic digits.
_SECONDS = re.compile(r"\d+(\.\d+)?", re.ASCII)


def _refuse_unknown_query(request: Request, known: set[str]) -> None:
    # A misspelt `wait` would otherwise answer at once, silently.
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise ValidationFailed(
            f"unknown query parameter {unknown[0]!r}; this route reads "
            + ", ".join(sorted(known)),
            [{"loc": ["query", name], "msg": "unknown parameter"} for name in unknown],
        )


def _wait_seconds(request: Request, limit: float) -> float:
    raw = request.query_params.get("wait")
    if raw is None:
        return 0.0
    if not _SECONDS.fullmatch(raw):
        raise ValidationFailed(
            "wait must be a number of seconds",
            [{"loc": ["query", "wait"], "msg": "not a number"}],
        )
    value = float(raw)
    if not 0 <= value <= limit:
        raise ValidationFailed(
            f"wait must be between 0 and {limit} seconds",
            [{"loc": ["query", "wait"], "msg": f"must be between 0 and {limit}"}],
        )
    return value


async def _wait_for_change(
    request: Request, svc: Services, record: TaskRecord, seconds: float
) -> bool:
    """Wait for the task to change; give up early when the client leaves."""
    change = asyncio.ensure_future(
        svc.watch.changed(record.task_id, record.version, seconds)
    )
    left = asyncio.ensure_future(client_left(request))
    try:
        await asyncio.wait({change, left}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        left.cancel()
        change.cancel()
    if not change.done() or change.cancelled():
        return False
    with backing("Redis"):
        return change.result()


async def cancel_task(request: Request) -> Response:
    """Cancel: pending at once (200), running at its next checkpoint (202)."""
    svc = services(request)
    owner = await svc.auth.owner(request)
    task_id = _task_id(request)
    record = await _load_record(svc, owner, task_id)
    if record is None:
        row = await _load_row(svc, owner, task_id)
        raise TaskAlreadyFinished(
            f"task {task_id} is {row['status']} and can no longer be cancelled"
        )

    with backing("Redis"):
        verdict = await svc.tasks.cancel(task_id)
    if verdict not in ("cancelled_now", "requested"):
        raise TaskAlreadyFinished(
            f"task {task_id} is {verdict} and can no longer be cancelled"
        )

    log.info("task.cancel_requested", task_id=task_id, verdict=verdict)
    view = await _load_view(request, svc, owner, task_id)
    return json_response(view, 200 if verdict == "cancelled_now" else 202)


async def get_result(request: Request) -> Response:
    """The full result, streamed; 409 before completion, 410 once purged."""
    svc = services(request)
    owner = await svc.auth.owner(request)
    task_id = _task_id(request)
    record = await _load_record(svc, owner, task_id)
    if record is None:
        row = await _load_row(svc, owner, task_id)
        if row["status"] == TaskStatus.COMPLETED:
            raise ResultExpired(
                f"the result of task {task_id} was purged after its TTL"
            )
        raise ResultNotReady(f"task {task_id} is {row['status']}, not completed")
    if record.status != TaskStatus.COMPLETED:
        raise ResultNotReady(f"task {task_id} is {record.status.value}, not completed")

    with backing("Redis"):
        stored = await svc.tasks.read_result(task_id)
    if stored is None:
        raise ResultExpired(f"the result of task {task_id} was purged after its TTL")

    return StreamingResponse(_chunks(decode_result(stored)), media_type=_JSON)


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), _RESULT_CHUNK_BYTES):
        yield data[start : start + _RESULT_CHUNK_BYTES]


async def get_events(request: Request) -> Response:
    """The permanent audit trail of one task."""
    svc = services(request)
    owner = await svc.auth.owner(request)
    task_id = _task_id(request)
    await _load_row(svc, owner, task_id)
    with backing("PostgreSQL"):
        events = await svc.history.events(task_id)

    return json_response(
        {"task_id": task_id, "events": [event_view(e) for e in events]}
    )


class TaskCollection(HTTPEndpoint):
    """`/tasks`: one route, so a 405 there names both of its methods."""

    async def get(self, request: Request) -> Response:
        """The history: see `history.list_tasks`."""
        return await history.list_tasks(request)

    async def post(self, request: Request) -> Response:
        """A submission: see `submit_task`."""
        return await submit_task(request)
