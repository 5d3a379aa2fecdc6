"""The worker process: one dramatiq Worker over the three priority queues.

`certq worker` runs one process; run more with the Procfile runner. A
SIGTERM stops intake at once; running tasks stop at their next checkpoint
and go back to pending, within `CERTQ_SHUTDOWN_GRACE_SECONDS`.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

import dramatiq
import prometheus_client
import structlog

import actors.operations  # noqa: F401  (registers every task type)
from actors.broker import WORKER_MAINTENANCE_CHANCE, build_broker
from actors.lifecycle import TaskLifecycle
from actors.runners import declare_runners
from actors.runtime import WorkerRuntime
from certq.redis_client import sync_client
from certq.redis_keys import RedisKeys
from certq.settings import Settings
from certq.worker_store import WorkerStore

log = structlog.get_logger(__name__)

#: How long an idle consumer waits between polls of its queue, at most.
POLL_MS = 500


def run_worker(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT, then stop gracefully."""
    client = sync_client(settings.redis_url)
    store = WorkerStore(
        client, RedisKeys(settings.redis_namespace), settings.type_concurrency
    )
    runtime = WorkerRuntime(settings, store)
    broker = build_broker(settings, maintenance_chance=WORKER_MAINTENANCE_CHANCE)
    broker.add_middleware(TaskLifecycle(runtime))
    declare_runners(broker)

    worker = dramatiq.Worker(
        broker, worker_threads=settings.worker_threads, worker_timeout=POLL_MS
    )
    # Prefetch no more than there are threads, so that other processes can
    # take waiting work while this one is busy.
    worker.queue_prefetch = settings.worker_threads
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        log.info("worker.stopping", signal=signal.Signals(signum).name)
        runtime.shutting_down.set()
        stop.set()

    serve_metrics(settings.worker_metrics_port)
    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    worker.start()
    # Wake up now and then: a signal the kernel hands to another thread (it
    # may, after SIGSTOP/SIGCONT) runs its Python handler only once the main
    # thread runs again, and an untimed wait would never return to run it.
    while not stop.wait(timeout=0.5):
        pass
    worker.stop(timeout=int(settings.shutdown_grace_seconds * 1000))
    broker.close()


def serve_metrics(port: int) -> None:
    """Serve this process's Prometheus metrics on `port` (0: not at all)."""
    if port == 0:
        return

    try:
        prometheus_client.start_http_server(port)
    except OSError as error:
        # Another worker on this host has the port: run on, unobserved.
        log.warning("worker.metrics_unavailable", port=port, error=str(error))
        return
    log.info("worker.metrics_serving", port=port)
