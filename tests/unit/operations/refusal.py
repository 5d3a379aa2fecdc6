"""Checking that an operation refuses input at both of its gates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from certq.errors import PermanentError
from tests.unit.operations.fake_context import FakeContext


def refused(
    model: type[BaseModel], operation: Callable[[Any, Any], Any], **params: Any
) -> str:
    """Why `params` are refused: the same reason when they are validated at
    submission (a 422) and, were they let through, when the task runs (a
    PermanentError)."""
    with pytest.raises(ValidationError) as at_submission:
        model(**params)
    with pytest.raises(PermanentError) as at_run:
        operation(FakeContext(), model.model_construct(**params))

    reason = str(at_run.value)
    assert reason in str(at_submission.value)
    return reason
