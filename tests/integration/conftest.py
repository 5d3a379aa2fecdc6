"""Clusters of real processes for the integration tests.

Every cluster gets its own Redis key namespace, over the session's database
(see tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.api import Api
from tests.integration.cluster import Cluster, running_cluster


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


@pytest.fixture
def bare(redis_url: str, database_url: str, log_dir: Path) -> Iterator[Cluster]:
    """Web and scheduler; the test starts and kills workers itself."""
    with running_cluster(redis_url, database_url, log_dir, workers=0) as cluster:
        yield cluster
