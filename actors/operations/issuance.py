"""Issuing one certificate: the subject, key generation and the result entry.

Shared by certificate.issue and certificate.bulk_issue so that both check
names (by `actors.operations.names`) and shape their results the same way.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificatePublicKeyTypes,
)
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from actors.operations.names import CommonName, DnsNames, dns_name_problem
from certq.ca import CertificateAuthority, issue_certificate

KeyType = Literal["rsa2048", "rsa3072", "rsa4096", "ec-p256", "ec-p384", "ed25519"]
GeneratedKey = (
    rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
)

#: What the result says instead of a key that was generated but not returned.
KEY_DISCARDED = "discarded: no key_passphrase given"

# cryptography's PEM encryption refuses longer passwords with a ValueError.
_MAX_PASSPHRASE_BYTES = 1023


def _check_passphrase(value: str) -> str:
    size_bytes = len(value.encode())
    if size_bytes > _MAX_PASSPHRASE_BYTES:
        # The passphrase is secret, so the message names its size only.
        raise ValueError(
            f"key_passphrase is {size_bytes} bytes in UTF-8; "
            f"the limit is {_MAX_PASSPHRASE_BYTES}"
        )

    return value


ValidityDays = Annotated[int, Field(ge=1, le=825)]
Passphrase = Annotated[
    str,
    Field(
        min_length=8,
        max_length=_MAX_PASSPHRASE_BYTES,
        description=f"8 characters to {_MAX_PASSPHRASE_BYTES} bytes in UTF-8",
    ),
    AfterValidator(_check_passphrase),
]


class Subject(BaseModel):
    """One certificate subject: its common name and DNS names."""

    model_config = ConfigDict(extra="forbid")

    common_name: CommonName
    dns_names: DnsNames = Field(default_factory=list)


def names_for_certificate(common_name: str, dns_names: list[str]) -> list[str]:
    """The SANs to issue: the given names, else the CN when it is a DNS name."""
    # Clients match hostnames against SANs only, never the CN, so a
    # certificate without SANs would be useless for TLS.
    if dns_names:
        return dns_names
    if dns_name_problem(common_name, allow_wildcard=True) is None:
        return [common_name.lower()]

    return []


def generate_key(key_type: KeyType) -> GeneratedKey:
    """A fresh private key of `key_type`."""
    if key_type.startswith("rsa"):
        return rsa.generate_private_key(65537, int(key_type.removeprefix("rsa")))
    if key_type == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "ec-p384":
        return ec.generate_private_key(ec.SECP384R1())

    return ed25519.Ed25519PrivateKey.generate()


def describe_key(key: CertificatePublicKeyTypes) -> str:
    """A short label for a public key, e.g. "rsa 2048" or "ec secp384r1"."""
    if isinstance(key, rsa.RSAPublicKey):
        return f"rsa {key.key_size}"
    if isinstance(key, dsa.DSAPublicKey):
        return f"dsa {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"ec {key.curve.name}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519"
    if isinstance(key, ed448.Ed448PublicKey):
        return "ed448"

    return type(key).__name__.lower()


def encrypt_key(key: GeneratedKey, passphrase: str) -> str:
    """The key as PKCS#8 PEM encrypted with `passphrase`."""
    encryption = serialization.BestAvailableEncryption(passphrase.encode())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )

    return pem.decode()


def issue_with_new_key(
    ca: CertificateAuthority,
    subject: Subject,
    key_type: KeyType,
    validity_days: int,
    passphrase: str | None,
) -> dict[str, Any]:
    """Generate a key, certify it, and return the result entry."""
    key = generate_key(key_type)
    certificate = certify(ca, key.public_key(), subject, validity_days)

    return issued_entry(ca, certificate, key, passphrase)


def certify(
    ca: CertificateAuthority,
    public_key: CertificatePublicKeyTypes,
    subject: Subject,
    validity_days: int,
) -> x509.Certificate:
    """Sign a certificate for `public_key` naming `subject`."""
    names = names_for_certificate(subject.common_name, subject.dns_names)

    return issue_certificate(ca, public_key, subject.common_name, names, validity_days)


def issued_entry(
    ca: CertificateAuthority,
    certificate: x509.Certificate,
    generated_key: GeneratedKey | None,
    passphrase: str | None,
) -> dict[str, Any]:
    """The JSON result for one issued certificate (and its key, if allowed)."""
    certificate_pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    entry: dict[str, Any] = {
        "serial": format(certificate.serial_number, "x"),
        "certificate_pem": certificate_pem,
        "chain_pem": certificate_pem + ca.certificate_pem.decode(),
        "fingerprint_sha256": certificate.fingerprint(hashes.SHA256()).hex(),
        "not_before": certificate.not_valid_before_utc.isoformat(),
        "not_after": certificate.not_valid_after_utc.isoformat(),
        "subject": certificate.subject.rfc4514_string(),
        "dns_names": _dns_names(certificate),
    }
    # A generated key leaves the worker only encrypted with the client's
    # passphrase; results sit in Redis and may be fetched more than once.
    if generated_key is not None and passphrase is not None:
        entry["private_key_pem"] = encrypt_key(generated_key, passphrase)
    elif generated_key is not None:
        entry["private_key"] = KEY_DISCARDED

    return entry


def _dns_names(certificate: x509.Certificate) -> list[str]:
    try:
        sans = certificate.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        )
    except x509.ExtensionNotFound:
        return []

    return sans.value.get_values_for_type(x509.DNSName)
