"""Routes about the service itself: health, task types, queues, CA, metrics."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import Response

from actors.operation import REGISTRY
from certq import metrics as metrics_
from certq.clock import ms_to_rfc3339
from certq.errors import CaNotCreated, Forbidden
from service.outage import backing
from service.services import services
from service.views import json_response

log = structlog.get_logger(__name__)


async def healthz(request: Request) -> Response:
    """Liveness: the process answers."""
    return json_response({"status": "ok"})


async def _check(name: str, probe: Any) -> tuple[str, str]:
    try:
        await asyncio.wait_for(probe(), timeout=2.0)
    except Exception as error:
        return name, f"unreachable: {type(error).__name__}"
    return name, "ok"


async def readyz(request: Request) -> Response:
    """Readiness: Redis and PostgreSQL both answer."""
    svc = services(request)
    checks = dict(
        await asyncio.gather(
            _check("redis", svc.tasks.ping), _check("postgresql", svc.history.ping)
        )
    )
    ready = all(v == "ok" for v in checks.values())
    return json_response(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        200 if ready else 503,
    )


def task_types_payload() -> list[dict[str, Any]]:
    """Every registered type with its params schema, built once at start-up."""
    return [
        {
            "task_type": spec.task_type,
            "description": spec.description,
            "params_schema": spec.params_model.model_json_schema(),
            "typical_seconds": spec.typical_seconds,
            "time_limit_seconds": spec.time_limit_seconds,
            "max_retries": spec.max_retries,
        }
        for spec in sorted(REGISTRY.values(), key=lambda s: s.task_type)
    ]


async def task_types(request: Request) -> Response:
    """Registered task types with the JSON schema of their params."""
    return json_response({"items": request.app.state.task_types})


async def ca_pem(request: Request) -> Response:
    """The service CA certificate every issued certificate chains to."""
    with backing("PostgreSQL"):
        pem = await services(request).ca.certificate_pem()
    if pem is None:
        raise CaNotCreated(
            "the service CA is created when the first worker starts; none has yet"
        )

    return Response(pem, media_type="application/x-pem-file")


async def queues(request: Request) -> Response:
    """Admin: waiting and running work per priority, and the live workers."""
    svc = services(request)
    owner = await svc.auth.owner(request)
    if not owner.is_admin:
        raise Forbidden("GET /queues needs an admin key")

    with backing("Redis"):
        snapshot = await svc.tasks.snapshot(
            int(svc.settings.worker_lost_after_seconds * 1000)
        )
        depths = await svc.tasks.queue_depths()
    return json_response(
        {
            "queues": {p.value: {"waiting": n} for p, n in snapshot.waiting.items()},
            "messages": depths,
            "running": snapshot.running,
            "worker_slots": snapshot.worker_slots,
            "workers": [_worker_view(w) for w in snapshot.workers],
        }
    )


def _worker_view(info: dict[str, Any]) -> dict[str, Any]:
    # Workers beat in epoch ms; the API speaks RFC 3339 like everywhere else.
    times: dict[str, Any] = {
        name: ms_to_rfc3339(int(info[name]))
        for name in ("started_at", "seen_at")
        if name in info
    }
    return {**info, **times}


async def metrics(request: Request) -> Response:
    """Prometheus exposition of this process, with the queues' gauges."""
    svc = services(request)
    try:
        snapshot = await svc.tasks.snapshot(
            int(svc.settings.worker_lost_after_seconds * 1000)
        )
    except RedisError:
        # The process's own metrics still matter when Redis is away.
        log.warning("metrics.queues_unavailable")
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    for priority, waiting in snapshot.waiting.items():
        metrics_.TASKS_WAITING.labels(priority.value).set(waiting)
    metrics_.TASKS_RUNNING.set(snapshot.running)
    metrics_.WORKER_SLOTS.set(snapshot.worker_slots)

    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
