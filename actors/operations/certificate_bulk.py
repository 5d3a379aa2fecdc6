"""certificate.bulk_issue: many certificates, each with a fresh key, resumable.

The checkpoint state is `{"next_index": n, "entries": [...]}`: the entries of
subjects 0..n-1, already issued. A resumed run continues at `next_index`, so
no subject is issued twice.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from actors.operation import JsonValue, OperationContext, operation
from actors.operations.issuance import (
    KeyType,
    Passphrase,
    Subject,
    ValidityDays,
    issue_with_new_key,
)
from certq.errors import PermanentError

# A checkpoint stores every entry issued so far, so checkpointing after each
# item would write O(n^2) bytes. Spacing checkpoints in proportion to the
# state keeps the total linear; a preemption waits at most
# max(1 s, 2 ms per entry issued), 10 s at the 5000-subject limit.
MIN_CHECKPOINT_SECONDS = 1.0
CHECKPOINT_SECONDS_PER_ENTRY = 0.002


class BulkIssueParams(BaseModel):
    """Params of certificate.bulk_issue: the subjects and one key policy."""

    model_config = ConfigDict(extra="forbid")

    subjects: Annotated[list[Subject], Field(min_length=1, max_length=5000)]
    key_type: KeyType = "ec-p256"
    validity_days: ValidityDays = 90
    key_passphrase: Passphrase | None = Field(default=None, repr=False)


class _BulkState(BaseModel):
    next_index: int
    entries: list[dict[str, Any]]


@operation(
    "certificate.bulk_issue",
    secret_params=frozenset({"key_passphrase"}),
    params=BulkIssueParams,
    description="Issue one certificate with a fresh key per subject; resumable.",
    time_limit_seconds=7200,
    typical_seconds=0.01,
    max_retries=3,
    size=lambda p: len(p.subjects),
)
def bulk_issue(ctx: OperationContext, params: BulkIssueParams) -> dict[str, Any]:
    """Issue every subject in order, resuming after the last checkpoint."""
    total = len(params.subjects)
    entries = _resumed_entries(ctx.resume_state, total)
    if entries:
        ctx.progress(len(entries), f"resumed after {len(entries)} issued", total)

    last_checkpoint = time.monotonic()
    for index in range(len(entries), total):
        subject = params.subjects[index]
        entries.append(
            issue_with_new_key(
                ctx.ca,
                subject,
                params.key_type,
                params.validity_days,
                params.key_passphrase,
            )
        )
        ctx.progress(index + 1, f"issued {subject.common_name}", total)

        if _checkpoint_due(time.monotonic() - last_checkpoint, len(entries)):
            # A copy, so the stored state never sees later appends.
            ctx.checkpoint({"next_index": index + 1, "entries": list(entries)})
            last_checkpoint = time.monotonic()

    return {"count": len(entries), "certificates": entries}


def _checkpoint_due(seconds_since_last: float, entry_count: int) -> bool:
    interval = max(MIN_CHECKPOINT_SECONDS, entry_count * CHECKPOINT_SECONDS_PER_ENTRY)

    return seconds_since_last >= interval


def _resumed_entries(state: JsonValue, total: int) -> list[dict[str, Any]]:
    if state is None:
        return []

    try:
        saved = _BulkState.model_validate(state)
    except ValidationError as exc:
        raise PermanentError(
            f"bulk_issue checkpoint is unreadable: {exc.error_count()} errors"
        ) from exc
    # Restarting from scratch would issue subjects twice; refuse instead.
    if saved.next_index != len(saved.entries) or saved.next_index > total:
        raise PermanentError(
            f"bulk_issue checkpoint holds {len(saved.entries)} entries at index "
            f"{saved.next_index} for {total} subjects"
        )

    return saved.entries
