"""certificate.verify_chain: valid paths, and reasons when a path fails."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from pydantic import ValidationError

from actors.operations.certificate_verify import VerifyParams, verify_chain
from certq.ca import (
    CertificateAuthority,
    ca_key_usage,
    create_ca,
    issue_certificate,
)
from tests.unit.operations import malformed
from tests.unit.operations.fake_context import FakeContext, shared_ca
from tests.unit.operations.refusal import refused


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def _leaf(ca: CertificateAuthority, *names: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = issue_certificate(ca, key.public_key(), names[0], list(names), 30)
    return _pem(certificate)


def _leaf_for_usage(ca: CertificateAuthority, usage: x509.ObjectIdentifier) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    ca_ski = ca.certificate.extensions.get_extension_for_class(
        x509.SubjectKeyIdentifier
    ).value
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=one.example"))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
        .not_valid_after(dt.datetime.now(dt.UTC) + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("one.example")]), False
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca.private_key, hashes.SHA256())
    )
    return _pem(certificate)


def _intermediate(root: CertificateAuthority) -> CertificateAuthority:
    key = ec.generate_private_key(ec.SECP256R1())
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    root_ski = root.certificate.extensions.get_extension_for_class(
        x509.SubjectKeyIdentifier
    ).value
    usage = ca_key_usage()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=intermediate"))
        .issuer_name(root.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
        .not_valid_after(dt.datetime.now(dt.UTC) + dt.timedelta(days=90))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
        .add_extension(usage, critical=True)
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski),
            critical=False,
        )
        .sign(root.private_key, hashes.SHA256())
    )
    return CertificateAuthority(certificate=certificate, private_key=key)


def _any_leaf() -> str:
    return _leaf(shared_ca(), "any.example")


def _refused(**params: Any) -> str:
    return refused(VerifyParams, verify_chain, **params)


def test_params_reject_wildcard_hostname() -> None:
    """A hostname to check is a concrete name, never a pattern."""

    with pytest.raises(ValidationError, match="not a DNS name"):
        VerifyParams(leaf_pem=_any_leaf(), hostname="*.example.com")


def test_params_reject_trust_roots_that_are_neither_mozilla_nor_pem() -> None:
    """trust_roots is "mozilla" or PEM text."""
    reason = _refused(leaf_pem=_any_leaf(), trust_roots="firefox")

    assert 'trust_roots must be "mozilla" or PEM certificates' in reason


def test_leaf_chains_to_ca_given_as_root_for_its_hostname() -> None:
    """Leaf to CA is valid for the right name; the path runs leaf to root."""
    ca = shared_ca()
    params = VerifyParams(
        leaf_pem=_leaf(ca, "www.example.com"),
        hostname="www.example.com",
        trust_roots=ca.certificate_pem.decode(),
    )

    result = verify_chain(FakeContext(), params)

    assert result["valid"] is True
    assert result["reason"] is None
    subjects = [step["subject"] for step in result["path"]]
    assert subjects == ["CN=www.example.com", "CN=certq unit test CA"]
    assert result["path"][1]["issuer"] == "CN=certq unit test CA"


def test_wrong_hostname_is_invalid_with_a_reason() -> None:
    """A name the leaf does not carry fails, naming the subjectAltName."""
    ca = shared_ca()
    params = VerifyParams(
        leaf_pem=_leaf(ca, "www.example.com"),
        hostname="mail.example.com",
        trust_roots=ca.certificate_pem.decode(),
    )

    result = verify_chain(FakeContext(), params)

    assert result["valid"] is False
    assert result["path"] == []
    assert "subjectAltName" in result["reason"]


def test_untrusted_root_is_invalid_with_a_reason() -> None:
    """A leaf from a CA outside the trust roots does not verify."""
    params = VerifyParams(
        leaf_pem=_leaf(shared_ca(), "www.example.com"),
        hostname="www.example.com",
        trust_roots=create_ca("unrelated CA").certificate_pem.decode(),
    )

    result = verify_chain(FakeContext(), params)

    assert result["valid"] is False
    assert result["reason"]


def test_private_ca_leaf_is_not_trusted_by_mozilla_roots() -> None:
    """The default trust roots are Mozilla's, which never saw the test CA."""
    params = VerifyParams(leaf_pem=_leaf(shared_ca(), "www.example.com"))

    result = verify_chain(FakeContext(), params)

    assert result["valid"] is False
    assert result["reason"]


def test_intermediates_complete_the_path() -> None:
    """A leaf under an intermediate verifies when the intermediate is given."""
    root = shared_ca()
    intermediate = _intermediate(root)
    leaf = _leaf(intermediate, "api.example.com")
    common = {"leaf_pem": leaf, "trust_roots": root.certificate_pem.decode()}

    with_intermediate = verify_chain(
        FakeContext(),
        VerifyParams(**common, intermediates_pem=_pem(intermediate.certificate)),
    )
    without = verify_chain(FakeContext(), VerifyParams(**common))

    assert with_intermediate["valid"] is True
    assert len(with_intermediate["path"]) == 3
    assert without["valid"] is False


def test_without_hostname_a_server_and_client_leaf_is_valid() -> None:
    """With no name to check, the chain alone decides."""
    ca = shared_ca()
    params = VerifyParams(
        leaf_pem=_leaf(ca, "www.example.com"), trust_roots=ca.certificate_pem.decode()
    )

    result = verify_chain(FakeContext(), params)

    assert result["valid"] is True
    assert len(result["path"]) == 2


def test_without_hostname_a_server_only_leaf_is_valid() -> None:
    """Most public server certificates lack clientAuth; that is no failure."""
    ca = shared_ca()
    leaf = _leaf_for_usage(ca, ExtendedKeyUsageOID.SERVER_AUTH)
    params = VerifyParams(leaf_pem=leaf, trust_roots=ca.certificate_pem.decode())

    result = verify_chain(FakeContext(), params)

    assert result["valid"] is True


def test_without_hostname_a_leaf_for_other_uses_is_invalid() -> None:
    """A leaf limited to, say, code signing is not a TLS certificate."""
    ca = shared_ca()
    leaf = _leaf_for_usage(ca, ExtendedKeyUsageOID.CODE_SIGNING)
    params = VerifyParams(leaf_pem=leaf, trust_roots=ca.certificate_pem.decode())

    result = verify_chain(FakeContext(), params)

    assert result["valid"] is False
    assert "neither TLS server nor client" in result["reason"]


def test_check_time_after_expiry_is_invalid() -> None:
    """The `at` time is used: a year ahead, the 30-day leaf has expired."""
    ca = shared_ca()
    at = dt.datetime.now(dt.UTC) + dt.timedelta(days=365)
    params = VerifyParams(
        leaf_pem=_leaf(ca, "www.example.com"),
        hostname="www.example.com",
        trust_roots=ca.certificate_pem.decode(),
        at=at,
    )

    result = verify_chain(FakeContext(), params)

    assert result["valid"] is False
    assert "not valid at validation time" in result["reason"]
    assert result["checked_at"] == at.isoformat()


@pytest.mark.parametrize(
    "leaf_pem",
    ["not a certificate", "", "-----BEGIN CERTIFICATE-----\nMIIBAAAA\n"],
    ids=["text", "empty", "broken-pem"],
)
def test_unreadable_leaf_is_refused_naming_the_field(leaf_pem: str) -> None:
    """Regression: an empty or garbage leaf was accepted, then failed at run
    time with cryptography's parser state in the message."""
    reason = _refused(leaf_pem=leaf_pem)

    assert "leaf_pem" in reason
    assert "ParseError" not in reason


def test_leaf_pem_with_two_certificates_is_refused() -> None:
    """The leaf is one certificate; the rest belong in intermediates_pem."""
    ca = shared_ca()
    reason = _refused(leaf_pem=_leaf(ca, "a.example") + ca.certificate_pem.decode())

    assert "put all but the leaf in intermediates_pem" in reason


def test_unreadable_intermediates_are_refused_naming_the_field() -> None:
    reason = _refused(leaf_pem=_any_leaf(), intermediates_pem="garbage")

    assert "intermediates_pem does not hold readable PEM certificates" in reason


def _unreadable_leaf(ca: CertificateAuthority, old: bytes, new: bytes) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    good = issue_certificate(
        ca,
        key.public_key(),
        malformed.PLACEHOLDER_CN,
        ["www.example.com", malformed.PLACEHOLDER_DNS_NAME],
        30,
    )

    der = malformed.resigned_der(good, ca.private_key, old, new)

    return _pem(x509.load_der_x509_certificate(der))


@pytest.mark.parametrize(
    "at", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"]
)
def test_params_refuse_check_times_outside_the_range_in_utc(at: str) -> None:
    """A check time must stay within years 1-9999 when converted to UTC.

    Regression: such a time passed, then overflowed converting to UTC, an
    OverflowError retried four times.
    """
    params = {"leaf_pem": _any_leaf(), "at": at}

    with pytest.raises(ValidationError, match="outside years 1-9999"):
        VerifyParams.model_validate(params)


def test_params_convert_the_check_time_to_utc() -> None:
    """An offset time is held as the same instant in UTC."""

    params = VerifyParams.model_validate_json(
        json.dumps({"leaf_pem": _any_leaf(), "at": "2030-01-01T08:00:00+14:00"})
    )

    assert params.at == dt.datetime(2029, 12, 31, 18, 0, tzinfo=dt.UTC)
    assert params.at is not None and params.at.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59Z"])
def test_check_times_at_the_ends_of_the_range_give_a_result(at: str) -> None:
    """The extreme accepted times run to a normal "not valid" result."""
    ca = shared_ca()
    params = VerifyParams.model_validate(
        {
            "leaf_pem": _leaf(ca, "www.example.com"),
            "trust_roots": ca.certificate_pem.decode(),
            "at": at,
        }
    )

    result = verify_chain(FakeContext(), params)

    assert result["valid"] is False
    assert "not valid at validation time" in result["reason"]


@pytest.mark.parametrize("hostname", ["\u212a.example", "10.1", "a b.example"])
def test_params_refuse_hostnames_that_are_not_host_names(hostname: str) -> None:
    """Non-ASCII letters, IPv4 forms like "10.1" and spaces are refused.

    Regression: a Kelvin sign passed as a letter, then x509.DNSName raised
    a retryable ValueError.
    """
    params = {"leaf_pem": _any_leaf(), "hostname": hostname}

    with pytest.raises(ValidationError, match="hostname"):
        VerifyParams.model_validate(params)


def test_leaf_with_a_name_cryptography_cannot_read_is_refused() -> None:
    """A leaf name cryptography cannot read fails for good, naming the leaf.

    Regression: a BIT STRING common name verified, then raised a TypeError
    while the result was written, and the task was retried.
    """
    ca = shared_ca()
    leaf = _unreadable_leaf(ca, malformed.UTF8_CN, malformed.BIT_STRING_CN)
    reason = _refused(
        leaf_pem=leaf,
        hostname="www.example.com",
        trust_roots=ca.certificate_pem.decode(),
    )

    assert "leaf_pem certificate 0 has a name" in reason


def test_leaf_with_a_san_cryptography_cannot_read_is_refused() -> None:
    """A leaf SAN cryptography cannot read fails for good, naming its type.

    Regression: without a hostname, an x400Address SAN raised
    UnsupportedGeneralNameType, which was retried.
    """
    ca = shared_ca()
    leaf = _unreadable_leaf(ca, malformed.DNS_SAN, malformed.X400_SAN)
    reason = _refused(leaf_pem=leaf, trust_roots=ca.certificate_pem.decode())

    assert "x400Address" in reason


def test_trust_roots_with_an_unreadable_certificate_is_refused() -> None:
    """The unreadable certificate is named by its place in trust_roots."""
    ca = shared_ca()
    bad = _unreadable_leaf(ca, malformed.UTF8_CN, malformed.BIT_STRING_CN)
    reason = _refused(
        leaf_pem=_leaf(ca, "www.example.com"),
        trust_roots=ca.certificate_pem.decode() + bad,
    )

    assert "trust_roots certificate 1" in reason
