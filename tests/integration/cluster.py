"""Real certq processes for integration tests: web, workers, scheduler.

Each Cluster has its own Redis key namespace, so clusters never see each
other's queues; all share one throw-away database per test session.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import redis

CERTQ = [sys.executable, "-m", "certq.cli"]

#: Short timings so that loss, retry and preemption show within seconds.
TEST_SETTINGS = {
    "CERTQ_WORKER_LOST_AFTER_SECONDS": "3",
    "CERTQ_WORKER_HEARTBEAT_SECONDS": "0.5",
    "CERTQ_SCHEDULER_INTERVAL_SECONDS": "0.25",
    "CERTQ_RECONCILE_AFTER_SECONDS": "3",
    "CERTQ_PREEMPT_AFTER_SECONDS": "0.5",
    "CERTQ_SHUTDOWN_GRACE_SECONDS": "5",
    "CERTQ_RETRY_BACKOFF_BASE_MS": "100",
    "CERTQ_RETRY_BACKOFF_MAX_MS": "1000",
    "CERTQ_LOG_FORMAT": "json",
}


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Cluster:
    """A set of certq processes under one Redis namespace."""

    def __init__(
        self, redis_url: str, database_url: str, log_dir: Path, **settings: str
    ) -> None:
        self.namespace = "t" + uuid.uuid4().hex[:10]
        self.redis_url = redis_url
        self.database_url = database_url
        self.log_dir = log_dir
        self.env = {
            **os.environ,
            **TEST_SETTINGS,
            **settings,
            "REDIS_URL": redis_url,
            "DATABASE_URL": database_url,
            "CERTQ_REDIS_NAMESPACE": self.namespace,
        }
        self.processes: list[subprocess.Popen[bytes]] = []
        self.base_url = ""

    def _spawn(self, name: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        path = self.log_dir / f"{self.namespace}-{name}-{len(self.processes)}.log"
        with path.open("ab") as log:
            process = subprocess.Popen(
                [*CERTQ, name],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(process)
        return process

    def start_web(self, **settings: str) -> str:
        """Start uvicorn on a free port and wait until it is ready."""
        port = free_port()
        self._spawn("web", {**self.env, **settings, "PORT": str(port)})
        self.base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.base_url + "/readyz", timeout=1).status_code == 200:
                    return self.base_url
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"web did not become ready; see {self.log_dir}")

    def start_worker(
        self, threads: int = 2, **settings: str
    ) -> subprocess.Popen[bytes]:
        """Start one worker process and wait until it beats."""
        env = {**self.env, **settings, "CERTQ_WORKER_THREADS": str(threads)}
        before = self.live_worker_count()
        process = self._spawn("worker", env)
        self.wait_for(lambda: self.live_worker_count() > before, 30, "worker start")
        return process

    def start_scheduler(self) -> subprocess.Popen[bytes]:
        """Start the scheduler process."""
        return self._spawn("scheduler", self.env)

    def live_worker_count(self) -> int:
        """Workers whose liveness key exists."""
        client = redis.Redis.from_url(self.redis_url)
        try:
            return len(list(client.scan_iter(f"{self.namespace}:worker:*")))
        finally:
            client.close()

    @staticmethod
    def wait_for(check: Any, timeout: float, what: str) -> None:
        """Poll `check` until true, or fail naming `what`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")

    def create_key(self, user_id: str, *, admin: bool = False) -> str:
        """A new API key, made with the real CLI."""
        args = [*CERTQ, "keys", "create", "--user", user_id] + (
            ["--admin"] if admin else []
        )
        out = subprocess.run(args, env=self.env, check=True, capture_output=True)
        return out.stdout.decode().strip().splitlines()[-1]

    def kill(self, process: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
        """Send `sig` to a process's whole group and reap it if it dies."""
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        if sig == signal.SIGKILL:
            process.wait(timeout=10)

    def stop(self) -> None:
        """Stop every process and delete the namespace's keys."""
        for process in self.processes:
            if process.poll() is None:
                self.kill(process, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill(process)
        client = redis.Redis.from_url(self.redis_url)
        try:
            keys = list(client.scan_iter(f"{self.namespace}:*", count=1000))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


@contextmanager
def running_cluster(
    redis_url: str,
    database_url: str,
    log_dir: Path,
    *,
    workers: int = 1,
    threads: int = 2,
    scheduler: bool = True,
    **settings: str,
) -> Iterator[Cluster]:
    """A cluster with web, `workers` worker processes and a scheduler."""
    cluster = Cluster(redis_url, database_url, log_dir, **settings)
    try:
        cluster.start_web()
        if scheduler:
            cluster.start_scheduler()
        for _ in range(workers):
            cluster.start_worker(threads)
        yield cluster
    finally:
        cluster.stop()
