"""The bench's own PostgreSQL database and Redis key namespace.

Every run gets a fresh database `certq_bench_<run id>` on the server of
DATABASE_URL, migrated as `certq migrate` does, and the Redis namespace
`certq-bench-<run id>` in REDIS_URL's db. Both are dropped at the end, so a
run never sees another run's data, nor the data of any other certq on the
same servers. These are the bench's only SQL and Redis commands.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import redis.asyncio as aioredis
import structlog

from certq.migrate import apply_migrations
from certq.settings import Settings

log = structlog.get_logger(__name__)

#: Keys deleted per DEL command when the namespace is dropped.
_DELETE_BATCH = 500


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@dataclass(frozen=True)
class Isolation:
    """Where one run keeps its data, named after its run id."""

    run_id: str
    server_url: str
    redis_url: str

    @classmethod
    def new(cls, settings: Settings) -> Isolation:
        """A fresh run id on the servers the settings name."""
        return cls(uuid.uuid4().hex[:10], settings.database_url, settings.redis_url)

    @property
    def database_name(self) -> str:
        """The run's own database."""
        return f"certq_bench_{self.run_id}"

    @property
    def database_url(self) -> str:
        """DATABASE_URL of the run's processes."""
        return _with_database(self.server_url, self.database_name)

    @property
    def redis_namespace(self) -> str:
        """CERTQ_REDIS_NAMESPACE of the run's processes."""
        return f"certq-bench-{self.run_id}"

    @property
    def admin_url(self) -> str:
        """The same server and credentials, in its always-present database."""
        return _with_database(self.server_url, "postgres")


async def create_database(isolation: Isolation) -> None:
    """Create the run's database and apply every migration to it."""
    connection = await asyncpg.connect(isolation.admin_url)
    try:
        await connection.execute(f'CREATE DATABASE "{isolation.database_name}"')
    finally:
        await connection.close()

    await asyncio.to_thread(apply_migrations, isolation.database_url)
    log.info("bench.database_created", database=isolation.database_name)


async def drop_everything(isolation: Isolation) -> None:
    """Drop the run's database and delete every key of its namespace."""
    connection = await asyncpg.connect(isolation.admin_url)
    try:
        await connection.execute(
            f'DROP DATABASE IF EXISTS "{isolation.database_name}" WITH (FORCE)'
        )
    finally:
        await connection.close()

    client = aioredis.Redis.from_url(isolation.redis_url)
    try:
        pattern = f"{isolation.redis_namespace}:*"
        keys = [key async for key in client.scan_iter(pattern, count=1000)]
        for start in range(0, len(keys), _DELETE_BATCH):
            await client.delete(*keys[start : start + _DELETE_BATCH])
    finally:
        await client.aclose()
    log.info(
        "bench.data_dropped",
        database=isolation.database_name,
        namespace=isolation.redis_namespace,
        redis_keys=len(keys),
    )
