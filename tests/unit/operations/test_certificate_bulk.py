"""certificate.bulk_issue: one entry per subject, resumable without repeats."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pydantic import ValidationError

from actors.operations import certificate_bulk, issuance
from actors.operations.certificate_bulk import BulkIssueParams, bulk_issue
from actors.operations.issuance import KEY_DISCARDED
from certq.errors import PermanentError, Preempted
from tests.unit.operations.fake_context import FakeContext


def _params(count: int, **extra: Any) -> BulkIssueParams:
    subjects = [
        {"common_name": f"host{i}.example", "dns_names": [f"host{i}.example"]}
        for i in range(count)
    ]
    return BulkIssueParams.model_validate({"subjects": subjects, **extra})


@pytest.fixture
def checkpoint_every_item(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make bulk_issue checkpoint after every subject, as a slow run would."""
    monkeypatch.setattr(certificate_bulk, "MIN_CHECKPOINT_SECONDS", 0.0)
    monkeypatch.setattr(certificate_bulk, "CHECKPOINT_SECONDS_PER_ENTRY", 0.0)


@pytest.fixture
def issued_names(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the common name of every certificate actually issued."""
    names: list[str] = []
    real_issue = issuance.issue_with_new_key

    def counting_issue(*args: Any) -> dict[str, Any]:
        names.append(args[1].common_name)
        return real_issue(*args)

    monkeypatch.setattr(certificate_bulk, "issue_with_new_key", counting_issue)
    return names


def test_params_bound_the_number_of_subjects() -> None:
    """Between 1 and 5000 subjects are accepted."""

    with pytest.raises(ValidationError):
        _params(0)
    with pytest.raises(ValidationError):
        _params(5001)


def test_params_reject_unknown_subject_fields() -> None:
    """A misspelt field inside a subject is refused."""
    subjects = [{"common_name": "a.example", "dns_name": ["a.example"]}]

    with pytest.raises(ValidationError, match="extra"):
        BulkIssueParams.model_validate({"subjects": subjects})


def test_bulk_issues_one_certificate_per_subject_in_order() -> None:
    """Entries follow the subjects' order, each signed by the CA."""
    ctx = FakeContext()

    result = bulk_issue(ctx, _params(5))

    assert result["count"] == 5
    names = [entry["subject"] for entry in result["certificates"]]
    assert names == [f"CN=host{i}.example" for i in range(5)]
    for entry in result["certificates"]:
        pem = entry["certificate_pem"].encode()
        x509.load_pem_x509_certificate(pem).verify_directly_issued_by(
            ctx.ca.certificate
        )
        assert entry["private_key"] == KEY_DISCARDED


def test_bulk_reports_progress_for_every_subject() -> None:
    """Progress counts subjects up to the total, naming each one."""
    ctx = FakeContext()

    bulk_issue(ctx, _params(3))

    assert ctx.progress_calls == [
        (1, "issued host0.example", 3),
        (2, "issued host1.example", 3),
        (3, "issued host2.example", 3),
    ]


def test_bulk_with_passphrase_returns_every_key_encrypted() -> None:
    """Each entry carries its own key, encrypted with the passphrase."""

    result = bulk_issue(FakeContext(), _params(2, key_passphrase="bulk passphrase"))

    for entry in result["certificates"]:
        key = serialization.load_pem_private_key(
            entry["private_key_pem"].encode(), b"bulk passphrase"
        )
        certificate = x509.load_pem_x509_certificate(entry["certificate_pem"].encode())
        assert key.public_key() == certificate.public_key()


@pytest.mark.usefixtures("checkpoint_every_item")
def test_bulk_checkpoints_hold_index_and_entries_so_far() -> None:
    """Each checkpoint names the next index and every entry issued before it."""
    ctx = FakeContext()

    bulk_issue(ctx, _params(3))

    assert [state["next_index"] for state in ctx.checkpoints] == [1, 2, 3]
    assert [len(state["entries"]) for state in ctx.checkpoints] == [1, 2, 3]


@pytest.mark.usefixtures("checkpoint_every_item")
def test_bulk_resumes_after_preemption_without_issuing_twice(
    issued_names: list[str],
) -> None:
    """A preempted run resumes at its checkpoint; each subject is issued once."""
    params = _params(8)
    first = FakeContext(preempt_at_checkpoint=3)
    with pytest.raises(Preempted):
        bulk_issue(first, params)

    result = bulk_issue(first.resumed(), params)

    serials = [entry["serial"] for entry in result["certificates"]]
    assert result["count"] == 8
    assert len(set(serials)) == 8
    assert issued_names == [f"host{i}.example" for i in range(8)]
    assert result["certificates"][:3] == first.checkpoints[-1]["entries"]


def test_bulk_refuses_a_checkpoint_that_does_not_add_up() -> None:
    """An inconsistent checkpoint fails for good rather than re-issuing."""
    ctx = FakeContext(resume_state={"next_index": 2, "entries": []})

    with pytest.raises(PermanentError, match="checkpoint"):
        bulk_issue(ctx, _params(3))


def test_bulk_resumed_at_the_end_issues_nothing_more(issued_names: list[str]) -> None:
    """A checkpoint taken after the last subject completes without new work."""
    done = bulk_issue(FakeContext(), _params(2))
    state = {"next_index": 2, "entries": done["certificates"]}

    result = bulk_issue(FakeContext(resume_state=state), _params(2))

    assert result == done
    assert issued_names == ["host0.example", "host1.example"]


@pytest.mark.parametrize(
    ("subject", "reason"),
    [
        ({"common_name": "é" * 64}, "128 bytes in UTF-8"),
        ({"common_name": "a\nb"}, "a control or line-break character"),
        ({"common_name": "x.test", "dns_names": ["x.test", "X.test"]}, "more than"),
        ({"common_name": "x.test", "dns_names": ["10.0.0.1"]}, "IP address"),
    ],
)
def test_params_refuse_a_bad_subject_naming_its_place(
    subject: dict[str, Any], reason: str
) -> None:
    """Every subject is held to the name rules at submit time, by its index.

    Regression: a CN of 64 "é" passed, then failed the whole bulk at signing.
    """
    subjects = [{"common_name": "ok.example"}, subject]

    with pytest.raises(ValidationError, match=reason) as caught:
        BulkIssueParams.model_validate({"subjects": subjects})

    assert caught.value.errors()[0]["loc"][:2] == ("subjects", 1)


def test_params_refuse_passphrase_over_1023_utf8_bytes() -> None:
    """Regression: such a passphrase failed key encryption on every attempt."""
    params = {"subjects": [{"common_name": "a.example"}], "key_passphrase": "é" * 600}

    with pytest.raises(ValidationError, match="1200 bytes in UTF-8"):
        BulkIssueParams.model_validate(params)


def test_bulk_issues_subjects_at_the_utf8_limit() -> None:
    """A common name of 64 UTF-8 bytes is issued, not refused at signing."""
    params = BulkIssueParams.model_validate({"subjects": [{"common_name": "é" * 32}]})

    result = bulk_issue(FakeContext(), params)

    assert result["certificates"][0]["subject"] == "CN=" + "é" * 32
