"""The connections and stores a web process opens once at start-up."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import redis.asyncio as aioredis
from starlette.requests import Request

from certq.ca_repository import CaRepository
from certq.database import create_pool
from certq.key_repository import KeyRepository
from certq.redis_client import async_client
from certq.redis_keys import RedisKeys
from certq.settings import Settings
from certq.task_repository import TaskRepository
from certq.task_store import TaskStore
from service.auth import Authenticator
from service.watch import ChangeWatch


@dataclass
class Services:
    """Everything a request handler may use."""

    settings: Settings
    pool: asyncpg.Pool
    redis: aioredis.Redis
    tasks: TaskStore
    history: TaskRepository
    ca: CaRepository
    auth: Authenticator
    watch: ChangeWatch

    @classmethod
    async def open(cls, settings: Settings) -> Services:
        """Connect to PostgreSQL and Redis."""
        pool = await create_pool(settings.database_url, max_size=20)
        client = async_client(settings.redis_url)
        tasks = TaskStore(client, RedisKeys(settings.redis_namespace))
        return cls(
            settings=settings,
            pool=pool,
            redis=client,
            tasks=tasks,
            history=TaskRepository(pool),
            ca=CaRepository(pool),
            auth=Authenticator(KeyRepository(pool)),
            watch=ChangeWatch(tasks),
        )

    async def close(self) -> None:
        """Release the connections."""
        await self.pool.close()
        await self.redis.aclose()


def services(request: Request) -> Services:
    """The services of the app handling `request`."""
    found: Services = request.app.state.services
    return found


def base_url(request: Request) -> str:
    """The public base URL for links: configured, or the request's own."""
    configured = services(request).settings.public_url
    return configured.rstrip("/") if configured else str(request.base_url).rstrip("/")
