"""The dramatiq broker every worker and the scheduler use."""

from __future__ import annotations

from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import TimeLimit

from certq.settings import Settings

#: Maintenance (redelivering a dead worker's messages) runs on this share of
#: broker commands, in millionths; the scheduler forces it on every sweep.
WORKER_MAINTENANCE_CHANCE = 1_000
ALWAYS = 1_000_000


def build_broker(settings: Settings, *, maintenance_chance: int) -> RedisBroker:
    """A Redis broker under certq's namespace, with explicit time limits only.

    dramatiq's default middleware (retries, age limit, callbacks, pipelines)
    is left out: certq's lifecycle middleware owns retries and state.
    """
    # dramatiq's RedisBroker constructor carries no annotations.
    return RedisBroker(  # type: ignore[no-untyped-call]
        url=settings.redis_url,
        namespace=settings.redis_namespace,
        heartbeat_timeout=int(settings.worker_lost_after_seconds * 1000),
        maintenance_chance=maintenance_chance,
        middleware=[TimeLimit()],
    )
