"""The `certq` command: processes and operator tasks."""

from __future__ import annotations

import asyncio
import sys

import click

from certq.logs import configure_logging
from certq.settings import Settings, get_settings


def _settings() -> Settings:
    settings = get_settings()
    configure_logging(settings)
    return settings


@click.group()
def main() -> None:
    """certq: long certificate operations behind a fast HTTP API."""


@main.command()
def migrate() -> None:
    """Apply pending database migrations (safe to run from several processes)."""
    from certq.migrate import apply_migrations

    apply_migrations(_settings().database_url)


@main.group()
def keys() -> None:
    """Manage API keys."""


def _user_id(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from certq.key_repository import USER_ID_PATTERN

    if not USER_ID_PATTERN.fullmatch(value):
        raise click.BadParameter(
            f"{value!r} is not a user id: 1 to 200 letters, digits or ._@+-, "
            "starting with a letter or digit"
        )
    return value


@keys.command("create")
@click.option(
    "--user",
    "user_id",
    required=True,
    callback=_user_id,
    help="The user the key belongs to.",
)
@click.option("--admin", is_flag=True, help="Let the key see every user's tasks.")
def keys_create(user_id: str, admin: bool) -> None:
    """Create an API key and print it (it is stored only hashed)."""
    from certq.database import create_pool
    from certq.key_repository import KeyRepository

    async def create() -> str:
        pool = await create_pool(_settings().database_url, max_size=1)
        try:
            return await KeyRepository(pool).create(user_id, admin=admin)
        finally:
            await pool.close()

    click.echo(asyncio.run(create()))


@main.command()
def web() -> None:
    """Serve the HTTP API on PORT."""
    import uvicorn

    settings = _settings()
    uvicorn.run(
        "service.app:app_from_environment",
        factory=True,
        host="0.0.0.0",
        port=settings.port,
        log_config=None,
        access_log=False,
    )


@main.command()
def worker() -> None:
    """Run a worker process (CERTQ_WORKER_THREADS threads)."""
    from actors.worker import run_worker

    run_worker(_settings())


@main.command()
def scheduler() -> None:
    """Run the scheduler: audit flush, lost-task recovery, ageing, reconcile."""
    from actors.scheduler import run_scheduler

    run_scheduler(_settings())


if __name__ == "__main__":
    sys.exit(main())
