"""The one exception tree of certq.

CertqError
├── RequestError            (carries an HTTP status; mapped to problem details)
│   ├── InvalidRequest      400 malformed JSON or query
│   ├── Unauthorized        401 no or bad API key
│   ├── TaskNotFound        404 unknown task, or another user's
│   ├── CaNotCreated        404 /ca.pem before any worker has started
│   ├── TaskAlreadyFinished 409 cancel of a terminal task
│   ├── IdempotencyKeyInUse 409 the key's first request is still being recorded
│   ├── ResultNotReady      409 result asked before completion
│   ├── ResultExpired       410 result purged after its TTL
│   ├── BodyTimedOut        408 the body did not arrive in time
│   ├── ClientClosedRequest 499 the client hung up before its body was read
│   ├── BodyTooLarge        413
│   ├── UnsupportedMediaType 415
│   ├── ValidationFailed    422 (with an errors list)
│   │   └── IdempotencyKeyReused  the key came with another request before
│   └── ServiceUnavailable  503 Redis or PostgreSQL down
├── OperationError          raised by operations; says whether a retry may help
│   └── PermanentError      retrying cannot help (bad input, impossible request)
└── ControlSignal           raised at a checkpoint to stop the operation
    ├── CancelRequested
    ├── Preempted
    └── ShutdownRequested
"""

from __future__ import annotations

from typing import Any


class CertqError(Exception):
    """Root of every error certq raises on purpose."""


class RequestError(CertqError):
    """A request certq refuses; `status` is the HTTP status it maps to."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, errors: list[dict[str, Any]] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


class InvalidRequest(RequestError):
    """The body or query could not be parsed."""

    status = 400
    title = "Malformed request"


class Unauthorized(RequestError):
    """No API key, or one that matches no stored key."""

    status = 401
    title = "Unauthorized"


class Forbidden(RequestError):
    """The key is valid but its role may not use this route."""

    status = 403
    title = "Forbidden"


class TaskNotFound(RequestError):
    """No task with this id is visible to the caller."""

    status = 404
    title = "Task not found"


class CaNotCreated(RequestError):
    """The service CA does not exist yet: no worker has started."""

    status = 404
    title = "CA not created yet"


class TaskAlreadyFinished(RequestError):
    """The task is in a terminal state and cannot change."""

    status = 409
    title = "Task already finished"


class IdempotencyKeyInUse(RequestError):
    """Another request with the same Idempotency-Key is still being recorded."""

    status = 409
    title = "Idempotency key in use"


class ResultNotReady(RequestError):
    """The task has not completed, so it has no result yet."""

    status = 409
    title = "Result not ready"


class ResultExpired(RequestError):
    """The result outlived its TTL and was purged."""

    status = 410
    title = "Result expired"


class BodyTimedOut(RequestError):
    """The client stopped sending its body before it was complete."""

    status = 408
    title = "Request timeout"


class ClientClosedRequest(RequestError):
    """The client closed its connection before sending its whole body.

    Nobody reads the answer; 499 (a status nginx made common) keeps such
    requests apart from faults in logs and metrics.
    """

    status = 499
    title = "Client closed request"


class BodyTooLarge(RequestError):
    """The request body exceeds the configured limit."""

    status = 413
    title = "Request body too large"


class UnsupportedMediaType(RequestError):
    """The request body is not declared as JSON."""

    status = 415
    title = "Unsupported media type"


class ValidationFailed(RequestError):
    """The body parsed but its values are not acceptable."""

    status = 422
    title = "Validation failed"

    def __init__(self, detail: str, errors: list[dict[str, Any]] | None = None):
        # A 422 always lists its errors; one about the whole body has loc [].
        super().__init__(detail, errors or [{"loc": [], "msg": detail}])


class IdempotencyKeyReused(ValidationFailed):
    """An Idempotency-Key came back with a request other than its first."""


class ServiceUnavailable(RequestError):
    """A backing service (Redis or PostgreSQL) does not answer."""

    status = 503
    title = "Service unavailable"


class OperationError(CertqError):
    """An operation failed; `retryable` says whether another attempt may help."""

    retryable = True


class PermanentError(OperationError):
    """An operation failed in a way no retry can mend."""

    retryable = False


class ControlSignal(CertqError):
    """Raised at a checkpoint to unwind an operation; never a failure."""


class CancelRequested(ControlSignal):
    """The client asked to cancel the running task."""


class Preempted(ControlSignal):
    """Higher-priority work needs this slot; the task goes back to pending."""


class ShutdownRequested(ControlSignal):
    """The worker is stopping; the task goes back to pending."""


class Superseded(ControlSignal):
    """The task was taken from this run (declared lost); stop without writing."""
