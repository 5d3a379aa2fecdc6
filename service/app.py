"""The Starlette application factory of the web process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route

import actors.operations  # noqa: F401  (registers every task type)
from certq.errors import RequestError
from certq.logs import configure_logging
from certq.settings import Settings, get_settings
from service import problems
from service.middleware import RequestContext
from service.outage import BACKING_ERRORS
from service.routes import meta, tasks
from service.services import Services
from service.watch import running

ROUTES = [
    Route("/tasks", tasks.TaskCollection),
    Route("/tasks/{task_id}", tasks.get_task, methods=["GET"]),
    Route("/tasks/{task_id}/cancel", tasks.cancel_task, methods=["POST"]),
    Route("/tasks/{task_id}/result", tasks.get_result, methods=["GET"]),
    Route("/tasks/{task_id}/events", tasks.get_events, methods=["GET"]),
    Route("/task-types", meta.task_types, methods=["GET"]),
    Route("/queues", meta.queues, methods=["GET"]),
    Route("/ca.pem", meta.ca_pem, methods=["GET"]),
    Route("/healthz", meta.healthz, methods=["GET"]),
    Route("/readyz", meta.readyz, methods=["GET"]),
    Route("/metrics", meta.metrics, methods=["GET"]),
]


def create_app(settings: Settings | None = None) -> Starlette:
    """Build the app; connections open in its lifespan, once."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.services = await Services.open(settings)
        app.state.task_types = meta.task_types_payload()
        try:
            async with running(app.state.services.watch):
                yield
        finally:
            await app.state.services.close()

    return Starlette(
        routes=ROUTES,
        middleware=[Middleware(RequestContext)],
        exception_handlers={
            RequestError: problems.request_error,
            HTTPException: problems.http_error,
            **{kind: problems.backing_error for kind in BACKING_ERRORS},
            Exception: problems.unexpected_error,
        },
        lifespan=lifespan,
    )


def app_from_environment() -> Starlette:
    """uvicorn's factory entry point: settings and logging from the environment."""
    settings = get_settings()
    configure_logging(settings)
    return create_app(settings)
