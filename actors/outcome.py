"""How one run of an operation ended, as the runner reports it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Ending = Literal[
    "completed", "error", "cancelled", "preempted", "shutdown", "superseded"
]


@dataclass(frozen=True)
class Outcome:
    """The ending of a run, with its value or the error that caused it."""

    ending: Ending
    value: Any = None
    error_type: str = ""
    error_message: str = ""
    retryable: bool = False
