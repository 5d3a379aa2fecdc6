"""Every Prometheus collector certq defines: `certq_` prefix, base units.

Labels are bounded: task type, priority, outcome, route template, method.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

TASKS_SUBMITTED = Counter(
    "certq_tasks_submitted_total",
    "Tasks accepted by the API.",
    ["task_type", "priority"],
)
TASKS_STARTED = Counter(
    "certq_tasks_started_total",
    "Task runs started by workers.",
    ["task_type", "priority"],
)
TASKS_FINISHED = Counter(
    "certq_tasks_finished_total",
    "Tasks that reached a terminal state.",
    ["task_type", "outcome"],
)
TASK_RETRIES = Counter(
    "certq_task_retries_total",
    "Retries scheduled after a failed attempt.",
    ["task_type"],
)
TASK_SECONDS = Histogram(
    "certq_task_run_seconds",
    "Wall time of one run of an operation, by how it ended.",
    ["task_type", "ending"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900),
)
HTTP_REQUESTS = Counter(
    "certq_http_requests_total",
    "HTTP requests answered.",
    ["method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "certq_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
)
LONG_POLLS = Gauge(
    "certq_http_long_polls_waiting",
    "Requests of this process waiting in a `?wait=N` long poll now.",
)

# Set from Redis on each scrape of the web process: the same in every one.
TASKS_WAITING = Gauge(
    "certq_tasks_waiting",
    "Tasks waiting for a worker slot (due now), by priority.",
    ["priority"],
)
TASKS_RUNNING = Gauge("certq_tasks_running", "Tasks running on a worker now.")
WORKER_SLOTS = Gauge("certq_worker_slots", "Worker threads of the workers seen alive.")
