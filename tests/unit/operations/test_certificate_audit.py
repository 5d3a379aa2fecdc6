"""certificate.audit: every block reported, findings for each weakness."""

from __future__ import annotations

import datetime as dt
from typing import Any

import certifi
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from pydantic import ValidationError

from actors.operations import certificate_audit
from actors.operations.certificate_audit import AuditParams, audit
from certq.ca import issue_certificate
from certq.errors import Preempted
from tests.unit.operations import malformed
from tests.unit.operations.fake_context import FakeContext, shared_ca

NOW = dt.datetime.now(dt.UTC)
# DER of the AlgorithmIdentifier OIDs sha256WithRSAEncryption and
# sha1WithRSAEncryption; cryptography no longer signs with SHA-1, so the
# test relabels a SHA-256 certificate (audit reads, it does not verify).
SHA256_WITH_RSA = bytes.fromhex("06092a864886f70d01010b")
SHA1_WITH_RSA = bytes.fromhex("06092a864886f70d010105")


def _pem(
    *,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None = None,
    not_before: dt.datetime = NOW - dt.timedelta(days=1),
    not_after: dt.datetime = NOW + dt.timedelta(days=365),
    is_ca: bool = True,
) -> str:
    key = key or ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "audit test")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def _sha1_pem() -> str:
    sha256_pem = _pem(key=rsa.generate_private_key(65537, 2048))
    der = x509.load_pem_x509_certificate(sha256_pem.encode()).public_bytes(
        serialization.Encoding.DER
    )
    relabelled = x509.load_der_x509_certificate(
        der.replace(SHA256_WITH_RSA, SHA1_WITH_RSA)
    )
    return relabelled.public_bytes(serialization.Encoding.PEM).decode()


def _unreadable_pem(old: bytes, new: bytes) -> str:
    ca = shared_ca()
    key = ec.generate_private_key(ec.SECP256R1())
    names = ["www.example.com", malformed.PLACEHOLDER_DNS_NAME]
    good = issue_certificate(ca, key.public_key(), malformed.PLACEHOLDER_CN, names, 30)
    der = malformed.resigned_der(good, ca.private_key, old, new)

    return (
        x509.load_der_x509_certificate(der)
        .public_bytes(serialization.Encoding.PEM)
        .decode()
    )


def _findings(pem: str, **params: Any) -> list[str]:
    result = audit(FakeContext(), AuditParams(pem_bundle=pem, **params))
    findings: list[str] = result["certificates"][0]["findings"]
    return findings


def test_params_require_exactly_one_input() -> None:
    """Either a bundle or a source, never both and never neither."""

    with pytest.raises(ValidationError, match="exactly one"):
        AuditParams()
    with pytest.raises(ValidationError, match="exactly one"):
        AuditParams(pem_bundle=_pem(), source="mozilla")


def test_audit_of_mozilla_bundle_reports_every_certificate() -> None:
    """Each BEGIN CERTIFICATE of certifi's bundle has its entry, in order."""
    expected = certifi.contents().count("-----BEGIN CERTIFICATE-----")

    result = audit(FakeContext(), AuditParams(source="mozilla"))

    entries = result["certificates"]
    assert expected > 100
    assert [entry["index"] for entry in entries] == list(range(expected))
    assert result["totals"]["certificates"] == expected
    assert result["totals"]["findings_by_kind"]["parse_error"] == 0
    assert all(entry["subject"] and entry["key"] for entry in entries)


def test_healthy_ca_certificate_has_no_findings() -> None:
    """A current CA with a strong key and SHA-256 is clean."""

    result = audit(FakeContext(), AuditParams(pem_bundle=_pem()))

    entry = result["certificates"][0]
    assert entry["findings"] == []
    assert entry["key"] == "ec secp256r1"
    assert entry["signature_algorithm"] == "ecdsa-with-SHA256"
    assert result["totals"]["with_findings"] == 0


def test_malformed_entry_yields_parse_error_finding() -> None:
    """A bad block between good ones is a finding; its neighbours are audited."""
    garbage = (
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"
    )
    bundle = _pem() + garbage + _pem()

    result = audit(FakeContext(), AuditParams(pem_bundle=bundle))

    findings = [entry["findings"] for entry in result["certificates"]]
    assert findings == [[], ["parse_error"], []]
    assert "certificate 1 could not be parsed" in result["certificates"][1]["error"]
    assert result["totals"]["findings_by_kind"]["parse_error"] == 1


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        (malformed.UTF8_CN, malformed.BIT_STRING_CN, "X500_UNIQUE_IDENTIFIER"),
        (malformed.DNS_SAN, malformed.X400_SAN, "x400Address"),
    ],
    ids=["bit_string_common_name", "x400_address_san"],
)
def test_fields_cryptography_cannot_read_are_parse_errors(
    old: bytes, new: bytes, error: str
) -> None:
    """A field cryptography cannot read is that entry's parse error.

    Regression: a BIT STRING common name (TypeError) or an x400Address SAN
    (UnsupportedGeneralNameType) failed the whole audit, which was retried.
    """
    bundle = _pem() + _unreadable_pem(old, new) + _pem()

    result = audit(FakeContext(), AuditParams(pem_bundle=bundle))

    findings = [entry["findings"] for entry in result["certificates"]]
    assert findings == [[], ["parse_error"], []]
    assert error in result["certificates"][1]["error"]


def test_block_without_end_marker_is_a_parse_error() -> None:
    """A truncated last block still gets its entry."""
    truncated = _pem().split("-----END")[0]

    result = audit(FakeContext(), AuditParams(pem_bundle=_pem() + truncated))

    assert [entry["findings"] for entry in result["certificates"]] == [
        [],
        ["parse_error"],
    ]


def test_expired_certificate_is_reported() -> None:
    """A certificate past notAfter is expired."""
    pem = _pem(
        not_before=NOW - dt.timedelta(days=10), not_after=NOW - dt.timedelta(days=1)
    )

    assert _findings(pem) == ["expired"]


def test_certificate_expiring_within_the_window_is_reported() -> None:
    """A certificate ending inside expiring_within_days is expiring soon."""
    pem = _pem(not_after=NOW + dt.timedelta(days=5))

    assert _findings(pem, expiring_within_days=10) == ["expiring_soon"]
    assert _findings(pem, expiring_within_days=2) == []


def test_certificate_from_the_future_is_not_yet_valid() -> None:
    """A certificate whose notBefore is ahead is not yet valid."""
    pem = _pem(not_before=NOW + dt.timedelta(days=1))

    assert _findings(pem) == ["not_yet_valid"]


@pytest.mark.parametrize(
    ("key", "label"),
    [
        (rsa.generate_private_key(65537, 1024), "rsa 1024"),
        (ec.generate_private_key(ec.SECP224R1()), "ec secp224r1"),
    ],
)
def test_small_keys_are_weak(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, label: str
) -> None:
    """RSA under 2048 bits and EC under 256 bits are weak keys."""
    pem = _pem(key=key)

    result = audit(FakeContext(), AuditParams(pem_bundle=pem))

    entry = result["certificates"][0]
    assert entry["findings"] == ["weak_key"]
    assert entry["key"] == label


def test_sha1_signature_is_weak() -> None:
    """A SHA-1 signature is reported with its algorithm name."""
    pem = _sha1_pem()

    result = audit(FakeContext(), AuditParams(pem_bundle=pem))

    entry = result["certificates"][0]
    assert entry["findings"] == ["weak_signature"]
    assert entry["signature_algorithm"] == "sha1WithRSAEncryption"


def test_leaf_certificate_is_not_a_ca() -> None:
    """A bundle entry without BasicConstraints ca=True is flagged."""
    pem = _pem(is_ca=False)

    assert _findings(pem) == ["not_a_ca"]


@pytest.mark.parametrize("bundle", ["just some text", ""])
def test_bundle_without_certificates_is_refused_at_submission(bundle: str) -> None:
    """Regression: it was accepted, then failed when the task ran."""
    with pytest.raises(ValidationError, match="pem_bundle holds no -----BEGIN"):
        AuditParams(pem_bundle=bundle)


def test_audit_resumes_from_checkpoint_without_redoing_entries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A preempted audit resumes at its index and keeps its check time."""
    audited: list[int] = []
    real_audit_block = certificate_audit.audit_block

    def counting_audit_block(index: int, *args: Any) -> dict[str, Any]:
        audited.append(index)
        return real_audit_block(index, *args)

    monkeypatch.setattr(certificate_audit, "audit_block", counting_audit_block)
    params = AuditParams(source="mozilla")
    first = FakeContext(preempt_at_checkpoint=2)
    with pytest.raises(Preempted):
        audit(first, params)

    result = audit(first.resumed(), params)

    total = result["totals"]["certificates"]
    assert first.checkpoints[-1]["next_index"] == 40
    assert audited == list(range(40)) + list(range(40, total))
    assert result["checked_at"] == first.checkpoints[-1]["checked_at"]
    assert result["certificates"][:40] == first.checkpoints[-1]["entries"]
