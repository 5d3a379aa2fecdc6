"""Real PostgreSQL and Redis for the integration tests, isolated per run.

The session gets its own database (created on the server at DATABASE_URL and
dropped at the end); every cluster gets its own Redis key namespace.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from certq.migrate import apply_migrations
from tests.integration.api import Api
from tests.integration.cluster import Cluster, running_cluster

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/certq"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis server set-up made reachable (tests use their own namespaces)."""
    return os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A fresh, migrated database for this test session, dropped afterwards."""
    server_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    name = "certq_test_" + uuid.uuid4().hex[:10]
    admin_url = _with_database(server_url, "postgres")
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(server_url, name)
    apply_migrations(url)
    try:
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the processes of every cluster write their logs."""
    return tmp_path_factory.mktemp("certq-logs")


@pytest.fixture(scope="module")
def cluster(redis_url: str, database_url: str, log_dir: Path) -> Iterator[Cluster]:
    """One web, one worker (2 threads) and a scheduler, shared by a module."""
    with running_cluster(redis_url, database_url, log_dir) as running:
        yield running


@pytest.fixture(scope="module")
def api(cluster: Cluster) -> Api:
    """A user's client of the module's cluster."""
    return Api(cluster.base_url, cluster.create_key("alice"))
