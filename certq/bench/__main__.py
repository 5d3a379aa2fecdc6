"""`python -m certq.bench`: run the suite, write its JSON, print its tables."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import NoReturn

import asyncpg
import click
import redis.exceptions
import structlog
from rich.console import Console

from certq.bench.client import BenchClient, BenchFailed, open_session
from certq.bench.cluster import BenchCluster
from certq.bench.isolation import Isolation, create_database, drop_everything
from certq.bench.plan import PLANS
from certq.bench.report import Report, RunInfo, git_state, machine, tables, write_json
from certq.bench.suite import Figures, measure
from certq.demo import DemoFailed, create_api_key
from certq.logs import configure_logging
from certq.settings import Settings, get_settings

log = structlog.get_logger("certq.bench")

#: Table width when stdout is a file or a pipe (rich would assume 80).
_PIPED_WIDTH = 120


@click.command()
@click.option(
    "--size",
    type=click.Choice(list(PLANS)),
    default="default",
    show_default=True,
    help="How much each phase does: small is a smoke run, default stays "
    "under two minutes, large gives steadier figures.",
)
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("bench-results"),
    show_default=True,
    help="Where bench-<timestamp>.json is written.",
)
def main(size: str, output_dir: Path) -> None:
    """Measure certq's API latency, worker throughput and operation run times."""
    settings = get_settings()
    configure_logging(settings)
    # httpx logs every request at info; certq.demo's readiness probe uses it.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    signal.signal(signal.SIGTERM, _interrupt_on_sigterm)
    try:
        report = run(settings, size, Console())
    except (BenchFailed, DemoFailed) as error:
        _fail(str(error))
    except KeyboardInterrupt:
        _fail("interrupted")

    path = write_json(report, output_dir)
    console = Console()
    if not console.is_terminal:
        console.width = _PIPED_WIDTH
    for table in tables(report):
        console.print(table)
    console.print(f"figures written to {path}")
    log.info("bench.finished", path=str(path))


def run(settings: Settings, size: str, console: Console) -> Report:
    """Create the run's data and processes, measure, and always clean up."""
    plan = PLANS[size]
    isolation = Isolation.new(settings)
    cluster = BenchCluster(isolation)
    started_at = datetime.now(UTC)
    started = time.monotonic()
    log.info(
        "bench.started",
        run_id=isolation.run_id,
        size=size,
        database=isolation.database_name,
        redis_namespace=isolation.redis_namespace,
    )
    try:
        figures = asyncio.run(_measure(settings, isolation, cluster, size))
    finally:
        _clean_up(cluster, isolation, console)

    commit, dirty = git_state()
    python, cpu_count = machine()
    info = RunInfo(
        run_id=isolation.run_id,
        size=size,
        plan=plan,
        started_at=started_at,
        duration_seconds=round(time.monotonic() - started, 1),
        git_commit=commit,
        git_dirty=dirty,
        python=python,
        cpu_count=cpu_count,
    )

    return Report(run=info, figures=figures)


async def _measure(
    settings: Settings, isolation: Isolation, cluster: BenchCluster, size: str
) -> Figures:
    await create_database(isolation)
    await cluster.start_core()
    key = await create_api_key(
        settings.model_copy(update={"database_url": isolation.database_url})
    )
    plan = PLANS[size]
    async with open_session(cluster.base_url, key, plan.clients) as session:
        return await measure(cluster, BenchClient(session, cluster.check_alive), plan)


def _clean_up(cluster: BenchCluster, isolation: Isolation, console: Console) -> None:
    """Stop the processes, then drop the data; a second Ctrl-C cannot stop it."""
    cluster.stop(console)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        asyncio.run(drop_everything(isolation))
    except (OSError, asyncpg.PostgresError, redis.exceptions.RedisError) as error:
        log.warning(
            "bench.cleanup_failed",
            database=isolation.database_name,
            redis_namespace=isolation.redis_namespace,
            error=str(error),
        )
    finally:
        signal.signal(signal.SIGINT, previous)


def _fail(reason: str) -> NoReturn:
    log.error("bench.failed", reason=reason)
    sys.exit(1)


def _interrupt_on_sigterm(signum: int, frame: FrameType | None) -> NoReturn:
    # Treated like Ctrl-C, so that `finally` stops the processes.
    raise KeyboardInterrupt


if __name__ == "__main__":
    main()
