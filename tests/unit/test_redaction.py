"""Secret params are never written to PostgreSQL nor shown back."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

import actors.operations  # noqa: F401  (registers every task type)
from actors.operation import REDACTED, REGISTRY, OperationSpec

SECRET_WORDS = ("passphrase", "password", "secret", "token", "private_key")

ISSUE_PARAMS = {
    "common_name": "api.example.com",
    "dns_names": ["api.example.com"],
    "key_passphrase": "correct horse battery staple",
}
BULK_PARAMS = {
    "subjects": [{"common_name": "a.example"}, {"common_name": "b.example"}],
    "key_passphrase": "correct horse battery staple",
}


def _field_names(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    for name, field in model.model_fields.items():
        yield prefix + name
        for nested in _models_in(field.annotation):
            yield from _field_names(nested, f"{prefix}{name}.")


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in typing.get_args(annotation):
        if not isinstance(arg, types.EllipsisType):
            yield from _models_in(arg)


@pytest.mark.parametrize(
    ("task_type", "params"),
    [("certificate.issue", ISSUE_PARAMS), ("certificate.bulk_issue", BULK_PARAMS)],
)
def test_secret_param_is_replaced_by_the_marker_and_others_kept(
    task_type: str, params: dict[str, Any]
) -> None:
    """Only the secret changes; every other param is kept as given."""
    spec = REGISTRY[task_type]

    redacted = spec.redact(params)

    assert redacted["key_passphrase"] == REDACTED
    assert "correct horse battery staple" not in repr(redacted)
    assert {k: v for k, v in redacted.items() if k != "key_passphrase"} == {
        k: v for k, v in params.items() if k != "key_passphrase"
    }


def test_redaction_leaves_the_callers_params_untouched() -> None:
    """The worker still needs the secret: redact returns a copy."""
    params = dict(ISSUE_PARAMS)

    REGISTRY["certificate.issue"].redact(params)

    assert params == ISSUE_PARAMS


def test_params_without_the_secret_gain_no_marker() -> None:
    """A task submitted without a passphrase is stored exactly as submitted."""
    params = {"common_name": "api.example.com"}

    redacted = REGISTRY["certificate.issue"].redact(params)

    assert redacted == params


def test_operation_without_secrets_is_stored_unchanged() -> None:
    """diagnostic.echo declares no secret, so its data is kept whole."""
    params = {"data": {"key_passphrase": "not a declared secret here"}}

    redacted = REGISTRY["diagnostic.echo"].redact(params)

    assert redacted == params


@pytest.mark.parametrize(
    ("task_type", "params"),
    [("certificate.issue", ISSUE_PARAMS), ("certificate.bulk_issue", BULK_PARAMS)],
)
def test_redacted_params_fail_validation_rather_than_run_with_a_fake_secret(
    task_type: str, params: dict[str, Any]
) -> None:
    """A task restored from PostgreSQL cannot run with the marker as passphrase."""
    spec = REGISTRY[task_type]
    spec.params_model.model_validate(params)

    with pytest.raises(ValidationError, match="key_passphrase"):
        spec.params_model.model_validate(spec.redact(params))


def test_secret_given_as_null_is_kept_so_a_restored_task_still_validates() -> None:
    """An explicit null passphrase hides nothing and must survive storage.

    Regression: redact replaced the null with the marker, so a task submitted
    with "key_passphrase": null and restored from PostgreSQL after losing
    Redis failed validation although it never had a secret.
    """
    spec = REGISTRY["certificate.issue"]
    params = {"common_name": "api.example.com", "key_passphrase": None}

    redacted = spec.redact(params)

    spec.params_model.model_validate(redacted)
    assert redacted == params


@pytest.mark.parametrize("spec", REGISTRY.values(), ids=lambda s: s.task_type)
def test_every_param_named_like_a_secret_is_declared_secret(
    spec: OperationSpec,
) -> None:
    """No operation stores a passphrase, password or token by forgetting it.

    redact only looks at top-level keys, so a secret nested in a sub-model
    would also be caught here.
    """
    names = list(_field_names(spec.params_model))

    secret_like = {n for n in names if any(w in n.lower() for w in SECRET_WORDS)}

    assert secret_like <= spec.secret_params, f"{spec.task_type}: {secret_like}"
