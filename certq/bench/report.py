"""The figures of one run: the JSON file in bench-results/ and the tables."""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson
from rich.table import Table

from certq.bench.plan import Plan
from certq.bench.stats import Durations, Latency, Ratio, Throughput
from certq.bench.suite import Figures


@dataclass(frozen=True)
class RunInfo:
    """What a run was: when, how big, on which code and machine."""

    run_id: str
    size: str
    plan: Plan
    started_at: datetime
    duration_seconds: float
    git_commit: str | None
    git_dirty: bool | None
    python: str
    cpu_count: int | None


@dataclass(frozen=True)
class Report:
    """One run's JSON document."""

    run: RunInfo
    figures: Figures


def git_state() -> tuple[str | None, bool | None]:
    """The checked-out commit and whether the tree has changes, if git says."""
    try:
        commit = _git("rev-parse", "HEAD").strip()
        dirty = bool(_git("status", "--porcelain").strip())
    except (OSError, subprocess.SubprocessError):
        return None, None

    return commit, dirty


def _git(*args: str) -> str:
    done = subprocess.run(
        ["git", *args], capture_output=True, text=True, check=True, timeout=10
    )
    return done.stdout


def machine() -> tuple[str, int | None]:
    """The Python version and the CPU count the figures were taken with."""
    return platform.python_version(), os.cpu_count()


def write_json(report: Report, directory: Path) -> Path:
    """Write `bench-<UTC timestamp>.json` under `directory`; return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = report.run.started_at.strftime("%Y%m%dT%H%M%SZ")
    path = directory / f"bench-{stamp}.json"
    if path.exists():
        path = directory / f"bench-{stamp}-{report.run.run_id}.json"
    path.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")

    return path


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _numeric_columns(table: Table, *names: str) -> None:
    for name in names:
        table.add_column(name, justify="right")


def _latency_table(figures: dict[str, Latency], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("request latency (client side)")
    _numeric_columns(
        table, "clients", "requests", "p50 ms", "p95 ms", "p99 ms", "max ms", "req/s"
    )
    for row in figures.values():
        table.add_row(
            row.what,
            str(row.clients),
            str(row.requests),
            _ms(row.p50_ms),
            _ms(row.p95_ms),
            _ms(row.p99_ms),
            _ms(row.max_ms),
            f"{row.requests_per_second:,.0f}",
        )

    return table


def _throughput_table(figures: dict[str, Throughput]) -> Table:
    table = Table(title_justify="left")
    table.add_column("throughput (server timestamps)")
    _numeric_columns(
        table, "threads", "tasks", "seconds", "tasks/s", "e2e p50 ms", "e2e p95 ms"
    )
    for row in figures.values():
        table.add_row(
            row.what,
            str(row.worker_threads),
            str(row.tasks),
            f"{row.window_seconds:.2f}",
            f"{row.tasks_per_second:,.1f}",
            _ms(row.end_to_end_p50_ms),
            _ms(row.end_to_end_p95_ms),
        )

    return table


def _operations_table(figures: dict[str, Durations]) -> Table:
    table = Table(
        title_justify="left",
        caption="ms; wait: submit to start, run: start to finish, e2e: submit to "
        "finish (server clock); seen: until the client saw the end",
        caption_justify="left",
    )
    table.add_column("one task at a time")
    _numeric_columns(
        table,
        "runs",
        "wait p50",
        "run p50",
        "run mean",
        "run max",
        "e2e p50",
        "seen p50",
    )
    for row in figures.values():
        table.add_row(
            row.what,
            str(row.runs),
            _ms(row.wait_p50_ms),
            _ms(row.run_p50_ms),
            _ms(row.run_mean_ms),
            _ms(row.run_max_ms),
            _ms(row.end_to_end_p50_ms),
            _ms(row.observed_p50_ms),
        )

    return table


def _ratio_table(figures: dict[str, Ratio]) -> Table:
    table = Table(title_justify="left")
    table.add_column("ratio within this run")
    _numeric_columns(table, "value")
    for row in figures.values():
        table.add_row(row.what, "-" if row.value is None else f"{row.value:.2f}")

    return table


def tables(report: Report) -> list[Table]:
    """The run's figures as four tables: latency, throughput, operations, ratios."""
    run, figures = report.run, report.figures
    title = (
        f"certq bench, size {run.size}, run {run.run_id} "
        f"({run.duration_seconds:.0f} s, {run.cpu_count} CPUs)"
    )

    return [
        _latency_table(figures.latency, title),
        _throughput_table(figures.throughput),
        _operations_table(figures.operations),
        _ratio_table(figures.ratios),
    ]
