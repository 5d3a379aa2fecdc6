"""scripts/services.sh: start local Redis and PostgreSQL, reuse them, stop them."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

SERVICES_SH = Path(__file__).resolve().parents[2] / "scripts" / "services.sh"


def _free_ports(count: int) -> list[int]:
    """Ports nothing listens on, held together while chosen so they differ."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _services(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SERVICES_SH), command],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def _redis_answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False
    finally:
        client.close()


def _postgres_answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            row = conn.execute("SELECT current_database()").fetchone()
    except psycopg.OperationalError:
        return False

    return row == ("certq",)


@pytest.fixture
def services_env() -> Iterator[dict[str, str]]:
    """Environment aiming services.sh at unused ports and a private run dir."""
    # Not pytest's tmp_path: it sits under a 0700 directory that the `postgres`
    # user, who runs the cluster, cannot enter, so the data would go elsewhere.
    run_dir = tempfile.mkdtemp(prefix="certq-services-")
    os.chmod(run_dir, 0o755)
    redis_port, postgres_port = _free_ports(2)
    env = {
        **os.environ,
        "CERTQ_RUN_DIR": run_dir,
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{postgres_port}/certq",
    }
    try:
        yield env
    finally:
        _services("stop", env)
        shutil.rmtree(run_dir, ignore_errors=True)


@pytest.mark.slow
def test_ensure_starts_missing_services_then_reuses_them_and_stop_ends_them(
    services_env: dict[str, str],
) -> None:
    """Where nothing answers, ensure starts both; again, it reuses; stop ends both."""
    redis_url = services_env["REDIS_URL"]
    database_url = services_env["DATABASE_URL"]
    started_file = Path(services_env["CERTQ_RUN_DIR"]) / "started"
    assert not _redis_answers(redis_url)
    assert not _postgres_answers(database_url)

    first = _services("ensure", services_env)

    assert first.returncode == 0, first.stderr
    assert "redis: started" in first.stdout
    assert "postgres: started" in first.stdout
    assert _redis_answers(redis_url)
    assert _postgres_answers(database_url)
    started_before = started_file.read_text()

    second = _services("ensure", services_env)

    assert second.returncode == 0, second.stderr
    assert "started on" not in second.stdout
    assert second.stdout.count(": using ") == 2
    assert started_file.read_text() == started_before

    stopped = _services("stop", services_env)

    assert stopped.returncode == 0, stopped.stderr
    assert not _redis_answers(redis_url)
    assert not _postgres_answers(database_url)
