"""How much one bench run does: the sizes `--size` chooses from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    """The counts of one run; each phase reads its own."""

    #: HTTP clients that call at the same time in the concurrent phases.
    clients: int
    #: POST /tasks made one at a time, the unloaded baseline.
    sequential_submits: int
    #: POST /tasks per client, all clients at once.
    submits_per_client: int
    #: GET /tasks/{id} per client, all clients at once.
    gets_per_client: int
    #: diagnostic.noop tasks submitted while a worker runs, per worker size.
    flow_tasks: int
    #: certificate.issue runs per key type.
    issue_repeats: int
    #: certificate.audit runs of the Mozilla bundle.
    audit_repeats: int
    #: Lone noops, each submitted after the worker sat idle for a while.
    idle_pickups: int

    @property
    def backlog_tasks(self) -> int:
        """Tasks the API phase leaves queued for the first worker to drain."""
        return self.sequential_submits + self.clients * self.submits_per_client


PLANS = {
    "small": Plan(
        clients=4,
        sequential_submits=50,
        submits_per_client=50,
        gets_per_client=50,
        flow_tasks=200,
        issue_repeats=4,
        audit_repeats=1,
        idle_pickups=2,
    ),
    "default": Plan(
        clients=8,
        sequential_submits=200,
        submits_per_client=100,
        gets_per_client=100,
        flow_tasks=600,
        issue_repeats=10,
        audit_repeats=3,
        idle_pickups=5,
    ),
    "large": Plan(
        clients=16,
        sequential_submits=500,
        submits_per_client=250,
        gets_per_client=250,
        flow_tasks=2000,
        issue_repeats=30,
        audit_repeats=5,
        idle_pickups=10,
    ),
}
