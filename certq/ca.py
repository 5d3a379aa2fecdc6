"""The service's own certificate authority: creation, key encryption, loading.

Pure cryptography; storage lives in certq.ca_repository.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificatePublicKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CAPrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

# Clocks of relying parties drift; a minute of slack keeps a fresh
# certificate from looking "not yet valid" to them.
_BACKDATE = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class CertificateAuthority:
    """The CA certificate and its private key, ready to sign."""

    certificate: x509.Certificate
    private_key: CAPrivateKey

    @property
    def certificate_pem(self) -> bytes:
        """The CA certificate as PEM."""
        return self.certificate.public_bytes(serialization.Encoding.PEM)


def create_ca(
    common_name: str = "certq service CA", validity_days: int = 3650
) -> CertificateAuthority:
    """Create a self-signed CA with a fresh EC P-384 key."""
    key = ec.generate_private_key(ec.SECP384R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    not_before = dt.datetime.now(dt.UTC) - _BACKDATE
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())

    certificate = (
        _validity(x509.CertificateBuilder(), not_before, validity_days)
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .add_extension(ca_key_usage(), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
            critical=False,
        )
        .sign(key, hashes.SHA384())
    )

    return CertificateAuthority(certificate=certificate, private_key=key)


def encrypt_private_key(ca: CertificateAuthority, passphrase: bytes) -> bytes:
    """The CA key as encrypted PKCS#8 PEM, for storage at rest."""
    return ca.private_key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.BestAvailableEncryption(passphrase),
    )


def load_ca(
    certificate_pem: bytes, encrypted_key_pem: bytes, passphrase: bytes
) -> CertificateAuthority:
    """Rebuild the CA from its certificate and its encrypted key."""
    try:
        certificate = x509.load_pem_x509_certificate(certificate_pem)
    except ValueError as exc:
        raise ValueError("the stored CA certificate is not valid PEM") from exc

    key = _decrypt_key(encrypted_key_pem, passphrase)
    if key.public_key() != certificate.public_key():
        raise ValueError("the stored CA key does not match the CA certificate")

    return CertificateAuthority(certificate=certificate, private_key=key)


def issue_certificate(
    ca: CertificateAuthority,
    public_key: CertificatePublicKeyTypes,
    common_name: str,
    dns_names: list[str],
    validity_days: int,
) -> x509.Certificate:
    """Sign a TLS server and client certificate for `public_key`."""
    not_before = dt.datetime.now(dt.UTC) - _BACKDATE
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]

    builder = (
        _validity(x509.CertificateBuilder(), not_before, validity_days)
        .subject_name(subject)
        .issuer_name(ca.certificate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(_authority_key_identifier(ca), critical=False)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False
        )
    )
    # An empty SubjectAlternativeName is invalid DER; without names the
    # certificate simply carries none.
    if dns_names:
        sans = x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names])
        builder = builder.add_extension(sans, critical=False)

    return builder.sign(ca.private_key, hashes.SHA256())


def _validity(
    builder: x509.CertificateBuilder, not_before: dt.datetime, days: int
) -> x509.CertificateBuilder:
    return builder.not_valid_before(not_before).not_valid_after(
        not_before + _BACKDATE + dt.timedelta(days=days)
    )


def ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _authority_key_identifier(
    ca: CertificateAuthority,
) -> x509.AuthorityKeyIdentifier:
    # Reuse the CA's own identifier when it has one so that path builders
    # match them byte for byte; older CAs may lack the extension.
    try:
        ski = ca.certificate.extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier
        )
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(
            ca.private_key.public_key()
        )

    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski.value)


def _decrypt_key(encrypted_key_pem: bytes, passphrase: bytes) -> CAPrivateKey:
    try:
        key = serialization.load_pem_private_key(encrypted_key_pem, passphrase)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ValueError(
            "the CA private key could not be decrypted: wrong passphrase, "
            "or the stored key is not encrypted PEM"
        ) from exc

    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError(
            f"the CA private key is a {type(key).__name__}; expected EC or RSA"
        )

    return key
