"""What an operation is: a plain function, its params model and its context.

Operations import only this module (and pydantic, cryptography). They never
touch Redis or SQL: the middleware owns state, retries, time limits and audit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import orjson
from pydantic import BaseModel

from certq.ca import CertificateAuthority

JsonValue = Any
ParamsT = TypeVar("ParamsT", bound=BaseModel)


class OperationContext(Protocol):
    """The three verbs an operation may use, plus what it may read."""

    task_id: str
    attempt: int
    #: The state given to the last `checkpoint` of an earlier run, or None.
    resume_state: JsonValue

    @property
    def ca(self) -> CertificateAuthority:
        """The service CA, loaded once per worker process."""

    def progress(self, step: int, message: str, total_steps: int | None = None) -> None:
        """Report that `step` of `total_steps` is done, with a short message."""

    def checkpoint(self, state: JsonValue = None) -> None:
        """Store resumable `state`; raise a ControlSignal if the task must stop."""

    def add_cleanup(self, fn: Callable[[], None]) -> None:
        """Run `fn` if the task is cancelled or fails for good."""


@dataclass(frozen=True)
class OperationSpec:
    """One registered task type."""

    task_type: str
    params_model: type[BaseModel]
    run: Callable[[OperationContext, Any], JsonValue]
    description: str
    time_limit_seconds: float
    typical_seconds: float
    max_retries: int
    #: How many "typical units" of work the params describe (e.g. subjects).
    size: Callable[[Any], float]
    #: Params never written to PostgreSQL nor shown back (e.g. passphrases).
    secret_params: frozenset[str] = frozenset()

    def parse(self, params: Any) -> BaseModel:
        """Validate `params` strictly, as the JSON they arrived as.

        Strict: "30" is not an integer nor "yes" a boolean, so what the task
        shows is what it runs with. The web and the worker both parse here,
        so a task accepted at submit time is never refused when it runs.
        """
        return self.params_model.model_validate_json(orjson.dumps(params), strict=True)

    def redact(self, params: dict[str, Any]) -> dict[str, Any]:
        """`params` with every secret value replaced by a marker.

        The marker is an object, not a string, so a task restored from
        PostgreSQL fails validation instead of running with a fake secret.
        """
        return {
            k: (REDACTED if k in self.secret_params and v is not None else v)
            for k, v in params.items()
        }

    def secrets(self, params: dict[str, Any]) -> dict[str, Any]:
        """Only the secret values of `params`."""
        return {
            k: v for k, v in params.items() if k in self.secret_params and v is not None
        }


REDACTED = {"redacted": True}


REGISTRY: dict[str, OperationSpec] = {}


def operation(
    task_type: str,
    *,
    params: type[ParamsT],
    description: str,
    time_limit_seconds: float,
    typical_seconds: float,
    max_retries: int = 3,
    size: Callable[[ParamsT], float] | None = None,
    secret_params: frozenset[str] = frozenset(),
) -> Callable[
    [Callable[[OperationContext, ParamsT], JsonValue]],
    Callable[[OperationContext, ParamsT], JsonValue],
]:
    """Register the decorated function as the runner of `task_type`."""

    def register(
        fn: Callable[[OperationContext, ParamsT], JsonValue],
    ) -> Callable[[OperationContext, ParamsT], JsonValue]:
        if task_type in REGISTRY:
            raise ValueError(f"task type {task_type!r} is registered twice")

        REGISTRY[task_type] = OperationSpec(
            task_type=task_type,
            params_model=params,
            run=fn,
            description=description,
            time_limit_seconds=time_limit_seconds,
            typical_seconds=typical_seconds,
            max_retries=max_retries,
            size=size or (lambda _params: 1.0),
            secret_params=secret_params,
        )
        return fn

    return register
