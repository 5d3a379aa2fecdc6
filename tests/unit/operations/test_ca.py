"""The service CA: creation, encrypted storage round trip, issuing."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from certq.ca import create_ca, encrypt_private_key, issue_certificate, load_ca
from tests.unit.operations.fake_context import shared_ca


def test_create_ca_makes_a_p384_ca_that_may_sign_certificates_and_crls() -> None:
    """A new CA has an EC P-384 key and critical CA constraints and key usage."""

    ca = create_ca("example CA", validity_days=30)

    extensions = ca.certificate.extensions
    constraints = extensions.get_extension_for_class(x509.BasicConstraints)
    usage = extensions.get_extension_for_class(x509.KeyUsage)
    assert isinstance(ca.private_key, ec.EllipticCurvePrivateKey)
    assert ca.private_key.curve.name == "secp384r1"
    assert constraints.critical and constraints.value.ca
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    assert extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert ca.certificate.subject.rfc4514_string() == "CN=example CA"


def test_create_ca_is_valid_now_for_the_requested_days() -> None:
    """The CA is valid from about now until validity_days from now."""
    now = dt.datetime.now(dt.UTC)

    ca = create_ca(validity_days=30)

    assert ca.certificate.not_valid_before_utc <= now
    lifetime = ca.certificate.not_valid_after_utc - now
    assert dt.timedelta(days=30) - dt.timedelta(minutes=1) < lifetime
    assert lifetime <= dt.timedelta(days=30, minutes=1)


def test_ca_key_survives_encryption_and_loading() -> None:
    """An encrypted key and the certificate load back into the same CA."""
    ca = shared_ca()
    encrypted = encrypt_private_key(ca, b"correct horse battery staple")

    loaded = load_ca(ca.certificate_pem, encrypted, b"correct horse battery staple")

    assert b"ENCRYPTED PRIVATE KEY" in encrypted
    assert loaded.certificate == ca.certificate
    assert loaded.private_key.public_key() == ca.private_key.public_key()


def test_load_ca_with_wrong_passphrase_raises_value_error() -> None:
    """A wrong passphrase is a ValueError that says so in one sentence."""
    ca = shared_ca()
    encrypted = encrypt_private_key(ca, b"correct horse battery staple")

    with pytest.raises(ValueError, match="wrong passphrase"):
        load_ca(ca.certificate_pem, encrypted, b"wrong passphrase entirely")


def test_load_ca_rejects_a_key_that_belongs_to_another_ca() -> None:
    """A key that does not match the certificate is refused."""
    other = create_ca("other CA")
    encrypted = encrypt_private_key(other, b"passphrase-1234")

    with pytest.raises(ValueError, match="does not match"):
        load_ca(shared_ca().certificate_pem, encrypted, b"passphrase-1234")


def test_load_ca_rejects_a_certificate_that_is_not_pem() -> None:
    """Garbage in place of the certificate is a ValueError."""
    encrypted = encrypt_private_key(shared_ca(), b"passphrase-1234")

    with pytest.raises(ValueError, match="not valid PEM"):
        load_ca(b"not a certificate", encrypted, b"passphrase-1234")


def test_issued_certificate_is_signed_by_the_ca_for_tls_use() -> None:
    """The leaf verifies against the CA and carries SANs, AKI and TLS usages."""
    ca = shared_ca()
    key = ec.generate_private_key(ec.SECP256R1())

    leaf = issue_certificate(
        ca, key.public_key(), "api.example.com", ["api.example.com"], 10
    )

    leaf.verify_directly_issued_by(ca.certificate)
    extensions = leaf.extensions
    sans = extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    usages = extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    aki = extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert sans.get_values_for_type(x509.DNSName) == ["api.example.com"]
    assert ExtendedKeyUsageOID.SERVER_AUTH in usages
    assert ExtendedKeyUsageOID.CLIENT_AUTH in usages
    assert aki.key_identifier == ski.value.digest
    assert not extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_issued_certificate_without_names_has_no_san_extension() -> None:
    """No DNS names means no SubjectAlternativeName, which may not be empty."""
    key = ec.generate_private_key(ec.SECP256R1())

    leaf = issue_certificate(shared_ca(), key.public_key(), "Jane Doe", [], 10)

    with pytest.raises(x509.ExtensionNotFound):
        leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
