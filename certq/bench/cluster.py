"""The certq processes of one bench run: web and scheduler, and one worker.

They start through certq.demo's ChildProcesses, each set in a process group
of its own, so the terminal's Ctrl-C reaches only the bench, which stops them.
Logs go to `.run/bench/<run id>/`, the worker's to a folder per thread count.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import structlog
from rich.console import Console

from certq.bench.client import BenchFailed
from certq.bench.isolation import Isolation
from certq.demo import (
    READY_TIMEOUT_SECONDS,
    ChildProcesses,
    DemoFailed,
    child_environment,
    free_port,
    stop_processes,
    wait_ready,
)

log = structlog.get_logger(__name__)

RUN_DIR = Path(".run") / "bench"

#: Settings the bench overrides; their CERTQ_ aliases would otherwise win.
_ALIASES = ("CERTQ_REDIS_URL", "CERTQ_DATABASE_URL")


def bench_environment(isolation: Isolation, port: int) -> dict[str, str]:
    """The demo's child environment, pointed at the run's database and keys."""
    env = child_environment(port)
    for alias in _ALIASES:
        env.pop(alias, None)
    env["REDIS_URL"] = isolation.redis_url
    env["DATABASE_URL"] = isolation.database_url
    env["CERTQ_REDIS_NAMESPACE"] = isolation.redis_namespace

    return env


class BenchCluster:
    """web and scheduler for the whole run; a worker (re)started per phase."""

    def __init__(self, isolation: Isolation) -> None:
        self.log_dir = RUN_DIR / isolation.run_id
        self.base_url = ""
        self._isolation = isolation
        self._core = ChildProcesses(log_dir=self.log_dir)
        self._worker: ChildProcesses | None = None
        self._env: dict[str, str] = {}

    async def start_core(self) -> None:
        """Start web and scheduler on a free port; wait until web is ready."""
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        self._env = bench_environment(self._isolation, port)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name in ("web", "scheduler"):
            self._core.start(name, self._env)

        async with httpx.AsyncClient(base_url=self.base_url) as client:
            try:
                await wait_ready(client, self._core)
            except DemoFailed:
                # The demo's message points at the demo's logs; name ours.
                self._core.check_alive()
                raise BenchFailed(
                    f"GET /readyz did not answer 200 within "
                    f"{READY_TIMEOUT_SECONDS:.0f} s; see {self.log_dir}/web.log"
                ) from None
        log.info("bench.web_ready", base_url=self.base_url, logs=str(self.log_dir))

    def start_worker(self, threads: int) -> None:
        """Replace the worker, if any, by one with `threads` threads."""
        self.stop_worker()
        log_dir = self.log_dir / f"worker-{threads}-threads"
        log_dir.mkdir(parents=True, exist_ok=True)
        self._worker = ChildProcesses(log_dir=log_dir)
        self._worker.start(
            "worker", {**self._env, "CERTQ_WORKER_THREADS": str(threads)}
        )
        log.info("bench.worker_started", threads=threads)

    def stop_worker(self) -> None:
        """Stop the worker gracefully; it is forgotten only once it is gone."""
        if self._worker is None:
            return

        self._worker.stop()
        self._worker = None

    def check_alive(self) -> None:
        """Raise certq.demo.DemoFailed if a process of the run has exited."""
        self._core.check_alive()
        if self._worker is not None:
            self._worker.check_alive()

    def stop(self, console: Console) -> None:
        """Stop every process of the run; Ctrl-C is ignored while they stop."""
        if self._worker is not None:
            stop_processes(self._worker, console)
            self._worker = None
        stop_processes(self._core, console)
