"""`make demo`: every certq process, real certificate work, live progress, a summary.

The demo starts the Procfile's processes (`certq web`, `certq worker`,
`certq scheduler`) as children in one process group, their logs in
`.run/demo/`. Over HTTP it audits certifi's Mozilla bundle and issues 25
certificates, then verifies the first one's chain to the service CA. It
prints a summary, stops every process it started, and exits 0 only when all
of it held; otherwise 1 with one line saying why.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import certifi
import httpx
import structlog
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Column, Table

from certq.database import create_pool
from certq.key_repository import KeyRepository
from certq.logs import configure_logging
from certq.settings import Settings, get_settings
from certq.states import TERMINAL, TaskStatus

log = structlog.get_logger(__name__)

RUN_DIR = Path(".run") / "demo"
PROCESS_NAMES = ("web", "worker", "scheduler")
WORKER_THREADS = 2
SUBJECT_COUNT = 25
READY_TIMEOUT_SECONDS = 60.0
TASK_TIMEOUT_SECONDS = 600.0
STOP_GRACE_SECONDS = 15.0
POLL_WAIT_SECONDS = 1
DEMO_USER = "demo"

_BEGIN = "-----BEGIN CERTIFICATE-----"
_UNSUCCESSFUL = {TaskStatus.FAILED, TaskStatus.CANCELLED}


class DemoFailed(Exception):
    """The demo could not go on or did not show what it should; says why."""


def _logs_hint() -> str:
    paths = ", ".join(str(RUN_DIR / f"{name}.log") for name in PROCESS_NAMES)

    return f"see {paths}"


# --- the child processes -------------------------------------------------


@dataclass
class ChildProcesses:
    """The certq processes the demo started, all in one process group."""

    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    group: int | None = None
    log_dir: Path = RUN_DIR

    def start(self, name: str, env: dict[str, str]) -> None:
        """Start `certq <name>` with its output in `<log_dir>/<name>.log`."""
        # The first child leads a new group; the others join it, so one
        # signal reaches them all and none gets the terminal's Ctrl-C.
        with open(self.log_dir / f"{name}.log", "wb") as log_file:
            child = subprocess.Popen(
                [sys.executable, "-m", "certq.cli", name],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                process_group=0 if self.group is None else self.group,
            )
        self.children[name] = child
        self.group = self.group or child.pid
        log.debug("demo.process_started", process=name, pid=child.pid)

    def check_alive(self) -> None:
        """Raise DemoFailed if any child has exited."""
        for name, child in self.children.items():
            code = child.poll()
            if code is not None:
                raise DemoFailed(
                    f"certq {name} exited with code {code}; "
                    f"see {self.log_dir / f'{name}.log'}"
                )

    def stop(self) -> None:
        """SIGTERM the group, wait up to STOP_GRACE_SECONDS, then SIGKILL it."""
        if self.group is None:
            return

        _signal_group(self.group, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in self.children.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=max(0.0, deadline - time.monotonic()))

        running = [n for n, c in self.children.items() if c.poll() is None]
        if running:
            log.warning("demo.processes_killed", processes=running)
            _signal_group(self.group, signal.SIGKILL)
            for child in self.children.values():
                child.wait()


def _signal_group(group: int, signum: signal.Signals) -> None:
    # The group is gone once every member has exited and been reaped.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signum)


def child_environment(port: int) -> dict[str, str]:
    """The environment of every child: the demo's own, plus PORT and threads."""
    # The one use of os.environ outside certq.settings: the children inherit
    # the demo's environment (REDIS_URL, DATABASE_URL, CERTQ_*) and parse it
    # themselves with get_settings().
    env = dict(os.environ)
    env["PORT"] = str(port)
    env["CERTQ_WORKER_THREADS"] = str(WORKER_THREADS)

    return env


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("", 0))
        return int(sock.getsockname()[1])


def start_processes(processes: ChildProcesses, port: int) -> None:
    """Start every Procfile process with fresh log files."""
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    env = child_environment(port)
    for name in PROCESS_NAMES:
        processes.start(name, env)


# --- HTTP ----------------------------------------------------------------


async def call(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    expect: int,
    **kwargs: Any,
) -> httpx.Response:
    """One request; anything but the expected status is a DemoFailed."""
    try:
        response = await client.request(method, path, **kwargs)
    except httpx.TransportError as error:
        raise DemoFailed(f"{method} {path} failed: {error!r}; {_logs_hint()}") from None
    if response.status_code != expect:
        raise DemoFailed(
            f"{method} {path} answered {response.status_code}: "
            f"{_problem_detail(response)}; {_logs_hint()}"
        )

    return response


def _problem_detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]

    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])
    return response.text[:200]


async def wait_ready(client: httpx.AsyncClient, processes: ChildProcesses) -> None:
    """Wait until GET /readyz answers 200, or fail pointing at the logs."""
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        processes.check_alive()
        if await _is_ready(client):
            return
        await asyncio.sleep(0.25)

    raise DemoFailed(
        f"GET /readyz did not answer 200 within {READY_TIMEOUT_SECONDS:.0f} s; "
        f"{_logs_hint()}"
    )


async def _is_ready(client: httpx.AsyncClient) -> bool:
    try:
        response = await client.get("/readyz", timeout=2.0)
    except httpx.TransportError:
        return False

    return response.status_code == 200


async def create_api_key(settings: Settings) -> str:
    """A new, non-admin API key of the demo user."""
    pool = await create_pool(settings.database_url, max_size=1)
    try:
        return await KeyRepository(pool).create(DEMO_USER, admin=False)
    finally:
        await pool.close()


# --- following tasks -----------------------------------------------------


@dataclass
class TaskRun:
    """One submitted task as the demo follows it to its end."""

    task_type: str
    task_id: str
    bar: TaskID
    submitted_at: float
    view: dict[str, Any] = field(default_factory=dict)
    result: Any = None
    seconds: float = 0.0

    @property
    def completed(self) -> bool:
        """True once the task ended completed."""
        return self.view.get("status") == TaskStatus.COMPLETED


@dataclass
class Tracker:
    """What following a task needs: the client, the bars, the processes."""

    client: httpx.AsyncClient
    progress: Progress
    processes: ChildProcesses

    async def submit(self, task_type: str, params: dict[str, Any]) -> TaskRun:
        """POST /tasks and add the task's progress bar."""
        body = {"task_type": task_type, "params": params}
        response = await call(self.client, "POST", "/tasks", 202, json=body)
        bar = self.progress.add_task(
            task_type, total=100, status="pending", message="submitted"
        )

        return TaskRun(task_type, response.json()["task_id"], bar, time.monotonic())

    async def follow(self, run: TaskRun) -> None:
        """Long-poll the task until it ends, then fetch its result."""
        path = f"/tasks/{run.task_id}"
        view: dict[str, Any] = {}
        while view.get("status") not in TERMINAL:
            self.processes.check_alive()
            if time.monotonic() - run.submitted_at > TASK_TIMEOUT_SECONDS:
                raise DemoFailed(
                    f"{run.task_type} did not end within "
                    f"{TASK_TIMEOUT_SECONDS:.0f} s; {_logs_hint()}"
                )
            params = {"wait": POLL_WAIT_SECONDS}
            view = (await call(self.client, "GET", path, 200, params=params)).json()
            self._show(run.bar, view)

        run.seconds = time.monotonic() - run.submitted_at
        run.view = view
        self.progress.stop_task(run.bar)
        if run.completed:
            run.result = await self._result(view)

    def _show(self, bar: TaskID, view: dict[str, Any]) -> None:
        status = view["status"]
        progress = view["progress"]
        messages = progress["messages"]
        message = messages[-1]["text"] if messages else ""
        if status in _UNSUCCESSFUL:
            message = (view.get("error") or {}).get("message") or status
        done = status == TaskStatus.COMPLETED
        completed = 100 if done else progress["percent_complete"]
        self.progress.update(bar, completed=completed, status=status, message=message)

    async def _result(self, view: dict[str, Any]) -> Any:
        # Large results are left out of the task view; fetch them in full.
        if view.get("result") is not None:
            return view["result"]

        path = f"/tasks/{view['task_id']}/result"
        return (await call(self.client, "GET", path, 200)).json()


@dataclass
class Runs:
    """The demo's three tasks; verify stays None if it could not be submitted."""

    audit: TaskRun
    bulk: TaskRun
    verify: TaskRun | None = None
    total_seconds: float = 0.0

    def all(self) -> list[TaskRun]:
        """The tasks that were submitted, in order."""
        return [run for run in (self.audit, self.bulk, self.verify) if run is not None]


def bulk_params() -> dict[str, Any]:
    """The params of a bulk issuance of SUBJECT_COUNT demo hosts."""
    names = [f"host-{n:02d}.demo.certq.test" for n in range(1, SUBJECT_COUNT + 1)]
    subjects = [{"common_name": name, "dns_names": [name]} for name in names]

    # RSA keys take long enough to watch the bar move, like real bulk runs.
    return {"subjects": subjects, "key_type": "rsa2048"}


async def issue_then_verify(tracker: Tracker, runs: Runs) -> None:
    """Follow the bulk issuance; then verify its first certificate's chain."""
    await tracker.follow(runs.bulk)
    if not runs.bulk.completed:
        return

    ca_pem = (await call(tracker.client, "GET", "/ca.pem", 200)).text
    first = runs.bulk.result["certificates"][0]
    params = {
        "leaf_pem": first["certificate_pem"],
        "trust_roots": ca_pem,
        "hostname": first["dns_names"][0],
    }
    runs.verify = await tracker.submit("certificate.verify_chain", params)
    await tracker.follow(runs.verify)


async def run_tasks(tracker: Tracker) -> Runs:
    """Submit the audit and the bulk issuance and follow all tasks to the end."""
    started = time.monotonic()
    audit = await tracker.submit("certificate.audit", {"source": "mozilla"})
    bulk = await tracker.submit("certificate.bulk_issue", bulk_params())
    runs = Runs(audit, bulk)
    async with asyncio.TaskGroup() as group:
        group.create_task(tracker.follow(audit))
        group.create_task(issue_then_verify(tracker, runs))

    runs.total_seconds = time.monotonic() - started
    return runs


def _fixed(width: int) -> Column:
    return Column(min_width=width, no_wrap=True)


def new_progress(console: Console) -> Progress:
    """One bar per task: percent complete and the last progress message.

    Every column but the message keeps its width, so on a narrow terminal
    the message is cut short instead of the bar and the elapsed time.
    """
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description:<24}", table_column=_fixed(24)),
        BarColumn(bar_width=20, table_column=_fixed(20)),
        TaskProgressColumn(table_column=_fixed(4)),
        TextColumn("{task.fields[status]:<9}", table_column=_fixed(9)),
        TimeElapsedColumn(table_column=_fixed(7)),
        TextColumn(
            "[dim]{task.fields[message]}",
            table_column=Column(no_wrap=True, overflow="ellipsis"),
        ),
        console=console,
    )


async def exercise(
    settings: Settings, console: Console, processes: ChildProcesses, port: int
) -> Runs:
    """Wait for the web process, create a key, run the tasks with live bars."""
    base_url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0) as client:
        started = time.monotonic()
        with console.status(f"waiting for GET {base_url}/readyz"):
            await wait_ready(client, processes)
        ready_seconds = time.monotonic() - started
        console.print(f"[green]✓[/] web ready at {base_url} ({ready_seconds:.1f} s)")

        key = await create_api_key(settings)
        client.headers["Authorization"] = f"Bearer {key}"
        console.print(f"[green]✓[/] API key created for user {DEMO_USER!r}")

        with new_progress(console) as progress:
            return await run_tasks(Tracker(client, progress, processes))


# --- the verdict and the summary -----------------------------------------


def bundle_certificate_count() -> int:
    """BEGIN CERTIFICATE blocks in certifi's bundle, counted here, not by certq."""
    return certifi.contents().count(_BEGIN)


def issued_counts(runs: Runs) -> tuple[int, int]:
    """Certificates the bulk issuance returned, and how many serials differ."""
    if not runs.bulk.completed:
        return 0, 0

    serials = [entry["serial"] for entry in runs.bulk.result["certificates"]]
    return len(serials), len(set(serials))


def failure_reason(runs: Runs, bundle_count: int) -> str | None:
    """Why the demo failed, in one line, or None when every check held."""
    for run in runs.all():
        if not run.completed:
            error = (run.view.get("error") or {}).get("message")
            return f"{run.task_type} ended {run.view.get('status')}: {error}"
    if runs.verify is None:
        return "certificate.verify_chain was never submitted"

    audited = runs.audit.result["totals"]["certificates"]
    if audited != bundle_count:
        return f"the audit counted {audited} of {bundle_count} certificates"
    count, unique = issued_counts(runs)
    if (count, unique) != (SUBJECT_COUNT, SUBJECT_COUNT):
        return f"{count} certificates issued with {unique} unique serials"
    if not runs.verify.result["valid"]:
        return f"the chain is not valid: {runs.verify.result['reason']}"

    return None


def _audit_rows(runs: Runs, bundle_count: int) -> list[tuple[str, str]]:
    if not runs.audit.completed:
        return [("certificates audited", "-")]

    totals = runs.audit.result["totals"]
    audited = f"{totals['certificates']} (certifi's bundle holds {bundle_count})"
    findings = [
        (f"  finding: {kind}", str(count))
        for kind, count in totals["findings_by_kind"].items()
        if count
    ]

    return [("certificates audited", audited), *(findings or [("  findings", "none")])]


def _chain_row(runs: Runs) -> tuple[str, str]:
    if runs.verify is None or not runs.verify.completed:
        return "chain valid", "-"

    result = runs.verify.result
    if not result["valid"]:
        return "chain valid", f"no: {result['reason']}"
    path = " → ".join(step["subject"] for step in result["path"])
    return "chain valid", f"yes: {path}"


def summary_table(runs: Runs, bundle_count: int) -> Table:
    """The summary: audit, findings, issuance, chain, wall times."""
    count, unique = issued_counts(runs)
    rows = [
        *_audit_rows(runs, bundle_count),
        ("certificates issued", f"{count} ({unique} unique serials)"),
        _chain_row(runs),
        *((f"wall time {r.task_type}", f"{r.seconds:.1f} s") for r in runs.all()),
        ("wall time, all tasks", f"{runs.total_seconds:.1f} s"),
    ]
    table = Table(title="certq demo summary", show_header=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for label, value in rows:
        table.add_row(label, value)

    return table


# --- the program ---------------------------------------------------------


def run(settings: Settings, console: Console) -> str | None:
    """Start the processes, run the demo, always stop them; the failure or None."""
    processes = ChildProcesses()
    try:
        port = free_port()
        start_processes(processes, port)
        console.print(
            f"[green]✓[/] started {', '.join(PROCESS_NAMES)} "
            f"(port {port}, logs in {RUN_DIR}/)"
        )
        runs = asyncio.run(exercise(settings, console, processes, port))
    finally:
        stop_processes(processes, console)

    bundle_count = bundle_certificate_count()
    console.print(summary_table(runs, bundle_count))
    return failure_reason(runs, bundle_count)


def stop_processes(processes: ChildProcesses, console: Console) -> None:
    """Stop the children; a second Ctrl-C must not leave them running."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with console.status("stopping the certq processes"):
            processes.stop()
    finally:
        signal.signal(signal.SIGINT, previous)
    if processes.children:
        console.print(f"[green]✓[/] stopped {', '.join(processes.children)}")


def _interrupt_on_sigterm(signum: int, frame: FrameType | None) -> NoReturn:
    # Treated like Ctrl-C, so that `finally` stops the children.
    raise KeyboardInterrupt


def main() -> None:
    """Run the demo; exit 0 when every check held, else 1 with one line why."""
    settings = get_settings()
    configure_logging(settings)
    # httpx logs every request at info; those lines would break the bars.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    signal.signal(signal.SIGTERM, _interrupt_on_sigterm)
    console = Console()
    started = time.monotonic()
    try:
        reason = run(settings, console)
    except DemoFailed as error:
        reason = str(error)
    except KeyboardInterrupt:
        reason = "interrupted"

    elapsed = time.monotonic() - started
    if reason is not None:
        Console(stderr=True).print(
            f"[bold red]demo failed:[/] {reason}", soft_wrap=True
        )
        sys.exit(1)
    console.print(f"[bold green]demo passed[/] in {elapsed:.1f} s")


if __name__ == "__main__":
    main()
