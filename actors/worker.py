"""The worker process: one dramatiq Worker over the three priority queues.

`certq worker` runs one process; run more with the Procfile runner. A
SIGTERM stops intake at once; running tasks stop at their next checkpoint
and go back to pending, within `CERTQ_SHUTDOWN_GRACE_SECONDS`.
"""

from __future__ import annotations

import queue
import signal
import threading
import time
from collections import defaultdict
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
    stop_intake(worker)
    worker.stop(timeout=int(settings.shutdown_grace_seconds * 1000))
    broker.close()


def stop_intake(worker: dramatiq.Worker) -> None:
    """Stop fetching, and hand back at once what was fetched but not started.

    dramatiq's own stop keeps its consumers fetching while the threads
    finish, and returns unstarted messages only at the very end, so a task
    this process had just sent back could sit here for the whole grace
    period while other workers idled. Paused consumers send dramatiq no
    heartbeats; that is safe while the grace stays under dramatiq's dead
    worker timeout (60 s). Delayed messages (retries not yet due) still go
    back only at the end.
    """
    consumers = list(worker.consumers.values())
    for consumer in consumers:
        consumer.pause()
    # A consumer stops fetching once its current poll returns (it reports
    # itself paused only after a restart delay, 3 s later, not worth waiting).
    time.sleep(2 * POLL_MS / 1000)

    unstarted: dict[str, list[dramatiq.MessageProxy]] = defaultdict(list)
    while True:
        try:
            item = worker.work_queue.get_nowait()
        except queue.Empty:
            break
        unstarted[item.message.queue_name].append(item.message)
    for queue_name, messages in unstarted.items():
        worker.consumers[queue_name].requeue_messages(messages)
    log.info("worker.intake_stopped", handed_back=sum(map(len, unstarted.values())))


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
